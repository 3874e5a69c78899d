"""RecordOutcome: outcome + attempt + ledger entry in one transaction; a retry changes nothing."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.aws import aws_client
from execution_core.contracts import RecordRequest, parse_payload
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.outcomes import ExecutionOutcomeRepository
from execution_core.services.recording import OutcomeRecorder
from execution_core.settings import ExecutionAttemptsTable, ExecutionOutcomesTable, LedgerTable, load_settings


class Settings(ExecutionAttemptsTable, ExecutionOutcomesTable, LedgerTable):
    pass


settings = load_settings(Settings, "execution_recorder")
logger = Logger()
_dynamodb = aws_client("dynamodb")
recorder = OutcomeRecorder(
    client=_dynamodb,
    attempts=ExecutionAttemptRepository(_dynamodb, settings.execution_attempts_table_name),
    outcomes=ExecutionOutcomeRepository(_dynamodb, settings.execution_outcomes_table_name),
    ledger=LedgerRepository(_dynamodb, settings.ledger_table_name),
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_payload(RecordRequest, event)
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(
        action_intent_id=request.start.action_intent_id,
        tenant_id=request.start.tenant_id,
        account_id=request.start.account_id,
        execution_id=request.start.execution_id,
    )
    result = recorder.record_success(request)
    logger.info("outcome recorded", extra={"disposition": result.disposition.value})
    return result.model_dump(mode="json")
