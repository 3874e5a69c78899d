"""The outcome recorder's wiring, shared by both recorders and the reconciler (one environment, ADR 0020):
the two recorders' roots are this root under their own service names; the reconciler's adds to it."""

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from execution_core.aws import aws_client
from execution_core.observability import BusinessMetrics, business_metrics
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.external_writes import ExternalWriteRepository
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.internal_objects import InternalObjectRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.outcomes import ExecutionOutcomeRepository
from execution_core.repositories.signals import SignalRepository
from execution_core.services.effects import EffectStore
from execution_core.services.recording import OutcomeRecorder
from execution_core.services.signals import SignalService
from execution_core.settings import RecorderSettings, load_settings
from execution_core.tracing import Tracing, start_tracing


@dataclass(frozen=True)
class RecorderRoot:
    settings: RecorderSettings
    logger: Logger
    tracing: Tracing
    metrics: BusinessMetrics
    recorder: OutcomeRecorder


def build_recorder_root(service: str) -> RecorderRoot:
    """Settings (named ``service`` in a configuration error) → one DynamoDB client → the recorder."""
    settings = load_settings(RecorderSettings, service)
    return RecorderRoot(
        settings=settings,
        logger=Logger(),
        tracing=start_tracing(),  # Powertools Tracer only when tracing is on (ADR 0014)
        metrics=business_metrics(settings),
        recorder=build_outcome_recorder(aws_client("dynamodb"), settings),
    )


def build_outcome_recorder(dynamodb: Any, settings: RecorderSettings) -> OutcomeRecorder:
    """One DynamoDB client shared by the transaction's tables (one client: one transaction)."""
    ledger = LedgerRepository(dynamodb, settings.ledger_table_name)
    return OutcomeRecorder(
        client=dynamodb,
        attempts=ExecutionAttemptRepository(dynamodb, settings.execution_attempts_table_name),
        outcomes=ExecutionOutcomeRepository(dynamodb, settings.execution_outcomes_table_name),
        ledger=ledger,
        signals=SignalService(
            client=dynamodb,
            signals=SignalRepository(dynamodb, settings.signals_table_name),
            ledger=ledger,
        ),
        effects=EffectStore(
            internal_objects=InternalObjectRepository(dynamodb, settings.internal_objects_table_name),
            external_writes=ExternalWriteRepository(dynamodb, settings.external_writes_table_name),
        ),
        intents=ActionIntentRepository(dynamodb, settings.action_intents_table_name),
    )
