"""PrepareExecution's composition root (ADR 0020): settings → clients → repositories → the preparer."""

from dataclasses import dataclass

from aws_lambda_powertools import Logger

from execution_core.aws import aws_client
from execution_core.observability import BusinessMetrics, business_metrics
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.registry import ActionTypeRegistryRepository
from execution_core.services.executions import StepFunctionsExecutions
from execution_core.services.prepare import CachedRegistry, ExecutionPreparer
from execution_core.settings import PrepareExecutionSettings, load_settings
from execution_core.tracing import Tracing, start_tracing


@dataclass(frozen=True)
class Root:
    settings: PrepareExecutionSettings
    logger: Logger
    tracing: Tracing
    metrics: BusinessMetrics
    preparer: ExecutionPreparer


def build() -> Root:
    settings = load_settings(PrepareExecutionSettings, "prepare_execution")
    logger = Logger()
    tracing = start_tracing()  # Powertools Tracer only when tracing is on (ADR 0014)
    dynamodb = aws_client("dynamodb")
    preparer = ExecutionPreparer(
        intents=ActionIntentRepository(dynamodb, settings.action_intents_table_name),
        registry=CachedRegistry(
            ActionTypeRegistryRepository(dynamodb, settings.action_type_registry_table_name)
        ),
        attempts=ExecutionAttemptRepository(dynamodb, settings.execution_attempts_table_name),
        ledger=LedgerRepository(dynamodb, settings.ledger_table_name),
        holder_running=StepFunctionsExecutions(aws_client("stepfunctions")).is_running,
        adapters=settings.tool_adapter_functions,
        lease_seconds=settings.lease_seconds,
    )
    return Root(settings, logger, tracing, business_metrics(settings), preparer)
