"""PerformAction for internal.create_note / internal.create_task: at most one object per idempotency key."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.adapters.internal import InternalAdapter
from execution_core.aws import aws_client
from execution_core.contracts import PreparedExecution, parse_payload
from execution_core.errors import KillSwitchEnabledError
from execution_core.observability import MetricName, ObservabilitySettings, business_metrics, correlate
from execution_core.repositories.internal_objects import InternalObjectRepository
from execution_core.services.artifacts import ArtifactStore
from execution_core.services.authorization import AuthorizationSettings, build_effect_authorization
from execution_core.settings import ArtifactsBucket, InternalObjectsTable, load_settings
from execution_core.snapstart import prepare_snapshot
from execution_core.tracing import start_tracing


class Settings(InternalObjectsTable, AuthorizationSettings, ArtifactsBucket, ObservabilitySettings):
    """What this function reads from its environment."""


settings = load_settings(Settings, "internal_adapter")
logger = Logger()
tracing = start_tracing()  # Powertools Tracer only when tracing is on (ADR 0014)
metrics = business_metrics(settings)
_dynamodb = aws_client("dynamodb")
adapter = InternalAdapter(
    objects=InternalObjectRepository(_dynamodb, settings.internal_objects_table_name),
    authorization=build_effect_authorization(_dynamodb, settings),
    artifacts=ArtifactStore(aws_client("s3"), settings.artifacts_bucket_name),
)


@logger.inject_lambda_context(clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    prepared = parse_payload(PreparedExecution, event)
    correlate(logger, **prepared.correlation_keys())
    try:
        result = adapter.act(prepared)
    except KillSwitchEnabledError:
        metrics.count(MetricName.KILL_SWITCH_BLOCKED)
        logger.warning("kill switch blocked the effect")
        raise
    logger.info("internal object written", extra={"replayed": result.replayed})
    return result.model_dump(mode="json")


prepare_snapshot()  # SnapStart hooks, where the runtime has them
