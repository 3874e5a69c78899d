"""RecordFailure: FAILED / CANCELLED / EXPIRED for a failure caught at any stage, sanitized."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.aws import aws_client
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.outcomes import ExecutionOutcomeRepository
from execution_core.services.recording import OutcomeRecorder
from execution_core.settings import ExecutionAttemptsTable, ExecutionOutcomesTable, LedgerTable, load_settings


class Settings(ExecutionAttemptsTable, ExecutionOutcomesTable, LedgerTable):
    pass


settings = load_settings(Settings, "execution_failure_recorder")
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
    detail = event.get("detail") if isinstance(event, dict) else None
    if isinstance(detail, dict):  # correlation only; the recorder validates everything
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(
            action_intent_id=str(detail.get("action_intent_id", ""))[:128],
            tenant_id=str(detail.get("tenant_id", ""))[:128],
            account_id=str(detail.get("account_id", ""))[:128],
        )
    result = recorder.record_failure(event)
    logger.info(
        "failure recorded",
        extra={
            "disposition": result.disposition.value,
            "status": result.status,
            "error_code": result.error_code,
        },
    )
    return result.model_dump(mode="json")
