"""RecordOutcome: outcome + attempt + ledger + signal in one transaction, then the events; a retry
changes nothing."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.aws import aws_client
from execution_core.contracts import RecordDisposition, RecordRequest, parse_payload
from execution_core.observability import MetricName, ObservabilitySettings, business_metrics, correlate
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.outcomes import ExecutionOutcomeRepository
from execution_core.repositories.signals import SignalRepository
from execution_core.services.events import EventPublisher
from execution_core.services.recording import OutcomeRecorder
from execution_core.services.signals import SignalService
from execution_core.settings import (
    EventBus,
    ExecutionAttemptsTable,
    ExecutionOutcomesTable,
    LedgerTable,
    SignalsTable,
    load_settings,
)


class Settings(
    ExecutionAttemptsTable, ExecutionOutcomesTable, LedgerTable, SignalsTable, EventBus, ObservabilitySettings
):
    pass


settings = load_settings(Settings, "execution_recorder")
logger = Logger()
metrics = business_metrics(settings)
_dynamodb = aws_client("dynamodb")
recorder = OutcomeRecorder(
    client=_dynamodb,
    attempts=ExecutionAttemptRepository(_dynamodb, settings.execution_attempts_table_name),
    outcomes=ExecutionOutcomeRepository(_dynamodb, settings.execution_outcomes_table_name),
    ledger=LedgerRepository(_dynamodb, settings.ledger_table_name),
    signals=SignalService(
        client=_dynamodb,
        signals=SignalRepository(_dynamodb, settings.signals_table_name),
        ledger=LedgerRepository(_dynamodb, settings.ledger_table_name),
    ),
    publisher=EventPublisher(
        client=aws_client("events"), bus_name=settings.event_bus_name, source=settings.execution_event_source
    ),
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_payload(RecordRequest, event)
    correlate(
        logger,
        action_intent_id=request.start.action_intent_id,
        tenant_id=request.start.tenant_id,
        account_id=request.start.account_id,
        execution_id=request.start.execution_id,
        trace_id=request.start.trace_id,
    )
    result = recorder.record_success(request)
    if result.disposition is RecordDisposition.RECORDED:  # counted once, not on retries
        metrics.count(MetricName.EXECUTIONS_SUCCEEDED)
        metrics.count(MetricName.SIGNALS_EMITTED)
    logger.info("outcome recorded", extra={"disposition": result.disposition.value})
    return result.model_dump(mode="json")
