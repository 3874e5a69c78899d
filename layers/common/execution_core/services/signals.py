"""Execution outcome signals for the perception layer (docs/architecture.md §4.6, "Option A").

The signal is a pure function of the outcome: the same outcome always yields byte-identical signals,
so a retried recorder cannot create a second one and every publish carries the same dedupe key.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from execution_core.models.common import format_timestamp
from execution_core.models.execution import ActionOutcome, OutcomeStatus
from execution_core.models.ledger import LedgerEntry, LedgerEventType
from execution_core.models.signal import (
    ConfidenceSource,
    Severity,
    Signal,
    SignalEvidence,
    SignalTtl,
    SignalType,
)
from execution_core.repositories.dynamo import TransactItem
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.signals import SignalRepository

SIGNAL_TTL_DAYS = 90
DETECTOR_VERSION = "execution-outcome-detector/1.0.0"
DETECTOR_INPUT_VERSION = "action-outcome/v1"


class IntentFacts(Protocol):
    """What the signal needs to know about the intent (an ActionIntent or a started execution)."""

    @property
    def action_intent_id(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...

    @property
    def account_id(self) -> str: ...

    @property
    def original_decision_id(self) -> str | None: ...

    @property
    def action_type(self) -> str | None: ...


def _sha256(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def window_key(account_id: str, action_intent_id: str) -> str:
    return f"{account_id}-{action_intent_id}"


def evidence_hash(outcome: ActionOutcome) -> str:
    """Over the outcome's identity (the intent it belongs to), status and completion time."""
    canonical = json.dumps(
        {
            "action_intent_id": outcome.action_intent_id,
            "status": outcome.status.value,
            "completed_at": format_timestamp(outcome.completed_at),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_execution_outcome_signal(
    outcome: ActionOutcome, intent: IntentFacts, trace_id: str, now: datetime
) -> Signal:
    """The complete ACTION_EXECUTED / ACTION_FAILED signal for an outcome."""
    succeeded = outcome.status is OutcomeStatus.SUCCEEDED
    signal_type = SignalType.ACTION_EXECUTED if succeeded else SignalType.ACTION_FAILED
    window = window_key(outcome.account_id, outcome.action_intent_id)
    evidence = evidence_hash(outcome)
    dedupe_key = _sha256(outcome.account_id, signal_type.value, window, evidence)
    refs = [f"outcome:{outcome.tenant_id}/{outcome.account_id}/{outcome.action_intent_id}"]
    if outcome.raw_response_artifact_ref:
        refs.append(outcome.raw_response_artifact_ref)
    metadata: dict[str, str | int | None] = {
        "status": outcome.status.value,
        "tool_name": outcome.tool_name,
        "error_class": outcome.error_class.value if outcome.error_class else None,
        "error_code": outcome.error_code.value if outcome.error_code else None,
        "attempt_count": outcome.attempt_count,
    }
    context: dict[str, str | int | None] = {
        "action_intent_id": intent.action_intent_id,
        "action_type": intent.action_type,
        "original_decision_id": intent.original_decision_id,
        "registry_version": outcome.registry_version,
    }
    return Signal(
        signal_id="sig-" + _sha256("signal", outcome.tenant_id, dedupe_key)[:40],
        signal_type=signal_type,
        tenant_id=outcome.tenant_id,
        account_id=outcome.account_id,
        trace_id=trace_id,
        dedupe_key=dedupe_key,
        window_key=window,
        detector_version=DETECTOR_VERSION,
        detector_input_version=DETECTOR_INPUT_VERSION,
        confidence=1.0,
        confidence_source=ConfidenceSource.DIRECT,
        severity=Severity.LOW if succeeded else Severity.MEDIUM,
        ttl=SignalTtl(expires_at=now + timedelta(days=SIGNAL_TTL_DAYS), ttl_days=SIGNAL_TTL_DAYS),
        evidence=SignalEvidence(evidence_refs=refs, evidence_hash=evidence),
        created_at=now,
        updated_at=now,
        metadata={k: v for k, v in metadata.items() if v is not None},
        context={k: v for k, v in context.items() if v is not None},
    )


@dataclass(frozen=True)
class SignalService:
    """Stores execution signals without any lifecycle or account-state coupling (docs/architecture.md §4.6,
    "Option A").

    The signal and its SIGNAL ledger entry are written together, each conditioned on its deterministic
    key (signal id; intent + SIGNAL), so a retry can never add a second one. The DynamoDB TTL
    attribute comes from the signal's expiry (the repository sets it).
    """

    client: Any
    signals: SignalRepository
    ledger: LedgerRepository

    def transaction_items(self, signal: Signal, attempt_count: int) -> list[TransactItem]:
        """The writes, for a caller that commits them in its own transaction (the recorders)."""
        entry = LedgerEntry(
            tenant_id=signal.tenant_id,
            account_id=signal.account_id,
            action_intent_id=str(signal.context["action_intent_id"]),
            event_type=LedgerEventType.SIGNAL,
            occurred_at=signal.created_at,
            trace_id=signal.trace_id,
            attempt_count=attempt_count,
            details={"signal_id": signal.signal_id, "signal_type": signal.signal_type.value},
        )
        return [self.signals.signal_put_item(signal), self.ledger.ledger_put_item(entry)]
