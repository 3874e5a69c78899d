"""The reconciler's composition root (ADR 0020): the outcome recorder, Step Functions and the adapters."""

from dataclasses import dataclass

from aws_lambda_powertools import Logger

from execution_core.aws import aws_client
from execution_core.observability import BusinessMetrics, business_metrics
from execution_core.services.executions import StepFunctionsExecutions
from execution_core.services.reconciler import EffectResolver, Reconciler
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
    reconciler: Reconciler


def build() -> Root:
    settings = load_settings(RecorderSettings, "reconciler")
    logger = Logger()
    tracing = start_tracing()  # Powertools Tracer only when tracing is on (ADR 0014)
    recorder = build_outcome_recorder(aws_client("dynamodb"), settings)
    reconciler = Reconciler(
        attempts=recorder.attempts,
        recorder=recorder,
        executions=StepFunctionsExecutions(aws_client("stepfunctions")),
        # One attempt and a read timeout above the adapter's own timeout: the schedule is the retry.
        resolver=EffectResolver(aws_client("lambda", read_timeout=60, max_attempts=1)),
    )
    return Root(settings, logger, tracing, business_metrics(settings), recorder, reconciler)
