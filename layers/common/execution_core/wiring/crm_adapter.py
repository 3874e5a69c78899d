"""The CRM adapter's composition root (ADR 0020): settings → AWS clients and the HTTP pool → repositories
→ the adapter."""

from dataclasses import dataclass
from datetime import timedelta

import urllib3
from aws_lambda_powertools import Logger

from execution_core.adapters.crm import CrmTaskAdapter, SecretsManagerSource, build_http_pool
from execution_core.aws import aws_client
from execution_core.observability import BusinessMetrics, business_metrics
from execution_core.repositories.connector_config import ConnectorConfigRepository
from execution_core.repositories.external_writes import ExternalWriteRepository
from execution_core.services.artifacts import ArtifactStore
from execution_core.services.authorization import build_effect_authorization
from execution_core.settings import CrmAdapterSettings, load_settings
from execution_core.tracing import Tracing, start_tracing


@dataclass(frozen=True)
class Root:
    settings: CrmAdapterSettings
    logger: Logger
    tracing: Tracing
    metrics: BusinessMetrics
    http: urllib3.PoolManager  # SnapStart's before-snapshot hook closes its connections
    adapter: CrmTaskAdapter


def build() -> Root:
    settings = load_settings(CrmAdapterSettings, "crm-adapter")
    logger = Logger()
    tracing = start_tracing()  # Powertools Tracer only when tracing is on (ADR 0014)
    dynamodb = aws_client("dynamodb")
    http = build_http_pool(settings)
    adapter = CrmTaskAdapter(
        connectors=ConnectorConfigRepository(dynamodb, settings.connector_config_table_name),
        external_writes=ExternalWriteRepository(dynamodb, settings.external_writes_table_name),
        authorization=build_effect_authorization(dynamodb, settings),
        artifacts=ArtifactStore(aws_client("s3"), settings.artifacts_bucket_name),
        secrets=SecretsManagerSource(aws_client("secretsmanager")),
        http=http,
        allowed_origins=settings.origin_patterns(),
        secret_prefix=settings.crm_secret_prefix,
        log=logger,
        settle_after=timedelta(seconds=settings.crm_settle_seconds),
    )
    return Root(settings, logger, tracing, business_metrics(settings), http, adapter)
