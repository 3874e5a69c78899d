"""PrepareExecution: load the intent, resolve its pinned registry mapping, take the lease (thin handler)."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from execution_core.aws import aws_client
from execution_core.contracts import PrepareRequest, parse_payload
from execution_core.errors import DuplicateStartError
from execution_core.observability import MetricName, ObservabilitySettings, business_metrics, correlate
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.registry import ActionTypeRegistryRepository
from execution_core.services.executions import StepFunctionsExecutions
from execution_core.services.prepare import CachedRegistry, ExecutionPreparer
from execution_core.settings import (
    ActionIntentsTable,
    ActionTypeRegistryTable,
    ExecutionAttemptsTable,
    LedgerTable,
    load_settings,
)
from execution_core.snapstart import prepare_snapshot
from execution_core.tracing import start_tracing


class Settings(
    ActionIntentsTable, ActionTypeRegistryTable, ExecutionAttemptsTable, LedgerTable, ObservabilitySettings
):
    lease_seconds: Annotated[int, Field(ge=60, le=86_400)]
    # {"internal": "<adapter function ARN>", "crm": "..."}: the function PerformAction invokes per namespace.
    tool_adapter_functions: Annotated[dict[str, Annotated[str, Field(max_length=256)]], Field(min_length=1)]


settings = load_settings(Settings, "prepare_execution")
logger = Logger()
tracing = start_tracing()  # Powertools Tracer only when tracing is on (ADR 0014)
metrics = business_metrics(settings)
_dynamodb = aws_client("dynamodb")
preparer = ExecutionPreparer(
    intents=ActionIntentRepository(_dynamodb, settings.action_intents_table_name),
    registry=CachedRegistry(
        ActionTypeRegistryRepository(_dynamodb, settings.action_type_registry_table_name)
    ),
    attempts=ExecutionAttemptRepository(_dynamodb, settings.execution_attempts_table_name),
    ledger=LedgerRepository(_dynamodb, settings.ledger_table_name),
    holder_running=StepFunctionsExecutions(aws_client("stepfunctions")).is_running,
    adapters=settings.tool_adapter_functions,
    lease_seconds=settings.lease_seconds,
)


@logger.inject_lambda_context(clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_payload(PrepareRequest, event)
    detail = request.event.detail
    correlate(
        logger,
        action_intent_id=detail.action_intent_id,
        tenant_id=detail.tenant_id,
        account_id=detail.account_id,
        execution_id=request.execution_id,
    )
    try:
        prepared = preparer.prepare(request)
    except DuplicateStartError:
        metrics.count(MetricName.DUPLICATE_STARTS_IGNORED)
        logger.info("duplicate start ignored")
        raise
    logger.thread_safe_append_keys(trace_id=prepared.trace_id)
    metrics.count(MetricName.EXECUTIONS_STARTED)
    logger.info("execution prepared", extra={"tool_name": prepared.tool.tool_name})
    return prepared.model_dump(mode="json")


prepare_snapshot()  # SnapStart hooks, where the runtime has them
