"""The failure recorder's composition root (ADR 0020): settings → one DynamoDB client → the recorder."""

from dataclasses import dataclass

from aws_lambda_powertools import Logger

from execution_core.aws import aws_client
from execution_core.observability import BusinessMetrics, business_metrics
from execution_core.services.recording import OutcomeRecorder
from execution_core.settings import RecorderSettings, load_settings
from execution_core.tracing import Tracing, start_tracing
from execution_core.wiring.recorder import build_outcome_recorder


@dataclass(frozen=True)
class Root:
    settings: RecorderSettings
    logger: Logger
    tracing: Tracing
    metrics: BusinessMetrics
    recorder: OutcomeRecorder


def build() -> Root:
    settings = load_settings(RecorderSettings, "execution_failure_recorder")
    return Root(
        settings=settings,
        logger=Logger(),
        tracing=start_tracing(),  # Powertools Tracer only when tracing is on (ADR 0014)
        metrics=business_metrics(settings),
        recorder=build_outcome_recorder(aws_client("dynamodb"), settings),
    )
