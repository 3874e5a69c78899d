"""The outcome recorder's wiring, shared by both recorders and the reconciler (one environment, ADR 0020)."""

from typing import Any

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
from execution_core.settings import RecorderSettings


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
