"""StartExecution: load the intent, resolve its pinned registry mapping, take the lease."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from execution_core.aws import aws_client
from execution_core.contracts import StartDisposition, StartRequest, parse_payload
from execution_core.observability import MetricName, ObservabilitySettings, business_metrics, correlate
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.registry import ActionTypeRegistryRepository
from execution_core.services.starter import ExecutionStarter
from execution_core.settings import (
    ActionIntentsTable,
    ActionTypeRegistryTable,
    ExecutionAttemptsTable,
    LedgerTable,
    load_settings,
)


class Settings(
    ActionIntentsTable, ActionTypeRegistryTable, ExecutionAttemptsTable, LedgerTable, ObservabilitySettings
):
    lease_seconds: Annotated[int, Field(ge=60, le=86_400)]


settings = load_settings(Settings, "execution_starter")
logger = Logger()
metrics = business_metrics(settings)
_dynamodb = aws_client("dynamodb")
starter = ExecutionStarter(
    intents=ActionIntentRepository(_dynamodb, settings.action_intents_table_name),
    registry=ActionTypeRegistryRepository(_dynamodb, settings.action_type_registry_table_name),
    attempts=ExecutionAttemptRepository(_dynamodb, settings.execution_attempts_table_name),
    ledger=LedgerRepository(_dynamodb, settings.ledger_table_name),
    lease_seconds=settings.lease_seconds,
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_payload(StartRequest, event)
    detail = request.event.detail
    correlate(
        logger,
        action_intent_id=detail.action_intent_id,
        tenant_id=detail.tenant_id,
        account_id=detail.account_id,
        execution_id=request.execution_id,
    )
    started = starter.start(request)
    logger.thread_safe_append_keys(trace_id=started.trace_id)
    if started.disposition is StartDisposition.STARTED:
        metrics.count(MetricName.EXECUTIONS_STARTED)
    else:
        metrics.count(MetricName.DUPLICATE_STARTS_IGNORED)
    logger.info("execution start resolved", extra={"disposition": started.disposition.value})
    return started.model_dump(mode="json")
