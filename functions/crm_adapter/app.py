"""PerformAction for crm.create_task: one CRM task per idempotency key, by upsert (thin handler).

Everything is built once per container at import, so a missing variable fails the cold start with its
name. Errors propagate: their class name is the Lambda errorType the state machine's Retry/Catch match.
"""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.adapters.crm import CrmSettings, CrmTaskAdapter, SecretsManagerSource, build_http_pool
from execution_core.aws import aws_client
from execution_core.contracts import PreparedExecution, ResolveRequest, parse_payload
from execution_core.errors import KillSwitchEnabledError
from execution_core.observability import MetricName, ObservabilitySettings, business_metrics, correlate
from execution_core.repositories import ConnectorConfigRepository, ExternalWriteRepository
from execution_core.services.artifacts import ArtifactStore
from execution_core.services.authorization import AuthorizationSettings, build_effect_authorization
from execution_core.settings import ArtifactsBucket, ConnectorConfigTable, ExternalWritesTable, load_settings
from execution_core.snapstart import prepare_snapshot
from execution_core.tracing import start_tracing


class Settings(
    ConnectorConfigTable,
    ExternalWritesTable,
    AuthorizationSettings,
    ArtifactsBucket,
    CrmSettings,
    ObservabilitySettings,
):
    """What this function reads from its environment."""


settings = load_settings(Settings, "crm-adapter")
logger = Logger()
tracing = start_tracing()  # Powertools Tracer only when tracing is on (ADR 0014)
metrics = business_metrics(settings)
_dynamodb = aws_client("dynamodb")
_http = build_http_pool(settings)
adapter = CrmTaskAdapter(
    connectors=ConnectorConfigRepository(_dynamodb, settings.connector_config_table_name),
    external_writes=ExternalWriteRepository(_dynamodb, settings.external_writes_table_name),
    authorization=build_effect_authorization(_dynamodb, settings),
    artifacts=ArtifactStore(aws_client("s3"), settings.artifacts_bucket_name),
    secrets=SecretsManagerSource(aws_client("secretsmanager")),
    http=_http,
    allowed_origins=settings.origin_patterns(),
    secret_prefix=settings.crm_secret_prefix,
    log=logger,
    settle_after=timedelta(seconds=settings.crm_settle_seconds),
)


@logger.inject_lambda_context(clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "resolve" in event:  # the reconciler settling an in-doubt write
        request = parse_payload(ResolveRequest, event["resolve"])
        correlate(
            logger,
            action_intent_id=request.action_intent_id,
            tenant_id=request.tenant_id,
            account_id=request.account_id,
        )
        state = adapter.resolve(request)
        logger.info("crm write looked up", extra={"state": state.value})
        return {"state": state.value}
    prepared = parse_payload(PreparedExecution, event)
    correlate(logger, **prepared.correlation_keys())
    try:
        return adapter.act(prepared).model_dump(mode="json")
    except KillSwitchEnabledError:
        metrics.count(MetricName.KILL_SWITCH_BLOCKED)
        logger.warning("kill switch blocked the effect")
        raise


prepare_snapshot(http_pools=[_http])  # SnapStart hooks, where the runtime has them
