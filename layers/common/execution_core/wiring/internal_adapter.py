"""The internal adapter's composition root (ADR 0020): settings → clients → repositories → the adapter."""

from dataclasses import dataclass

from aws_lambda_powertools import Logger

from execution_core.adapters.internal import InternalAdapter
from execution_core.aws import aws_client
from execution_core.observability import BusinessMetrics, business_metrics
from execution_core.repositories.internal_objects import InternalObjectRepository
from execution_core.services.artifacts import ArtifactStore
from execution_core.services.authorization import build_effect_authorization
from execution_core.settings import InternalAdapterSettings, load_settings
from execution_core.tracing import Tracing, start_tracing


@dataclass(frozen=True)
class Root:
    settings: InternalAdapterSettings
    logger: Logger
    tracing: Tracing
    metrics: BusinessMetrics
    adapter: InternalAdapter


def build() -> Root:
    settings = load_settings(InternalAdapterSettings, "internal_adapter")
    logger = Logger()
    tracing = start_tracing()  # Powertools Tracer only when tracing is on (ADR 0014)
    dynamodb = aws_client("dynamodb")
    adapter = InternalAdapter(
        objects=InternalObjectRepository(dynamodb, settings.internal_objects_table_name),
        authorization=build_effect_authorization(dynamodb, settings),
        artifacts=ArtifactStore(aws_client("s3"), settings.artifacts_bucket_name),
    )
    return Root(settings, logger, tracing, business_metrics(settings), adapter)
