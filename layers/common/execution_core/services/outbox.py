"""The transactional outbox: outcome events published from the committed outcome, never from the recorder.

A recorder's only write is its transaction (outcome + attempt + ledger + signal). The outcome table's
DynamoDB stream delivers each new outcome to the publisher, which rebuilds the signal (a pure function of
the outcome, so byte-identical to the one stored) and publishes SIGNAL_CREATED and ACTION_EXECUTED /
ACTION_FAILED, each carrying the signal's dedupe key. A recorder that dies right after its commit loses
nothing; a publisher retried after a partial failure publishes again with the same dedupe key (at least
once: consumers drop repeats by it).
"""

from dataclasses import dataclass
from typing import Any

from execution_core.models.common import format_timestamp
from execution_core.models.execution import ActionOutcome
from execution_core.models.signal import Signal
from execution_core.services.events import EventPublisher, OutgoingEvent
from execution_core.services.signals import build_execution_outcome_signal

SIGNAL_CREATED = "SIGNAL_CREATED"


def outcome_signal(outcome: ActionOutcome) -> Signal:
    """The signal a recorder stores with ``outcome`` (same function, same inputs, same bytes)."""
    return build_execution_outcome_signal(outcome, outcome, outcome.trace_id, outcome.completed_at)


def outcome_events(outcome: ActionOutcome) -> list[OutgoingEvent]:
    """SIGNAL_CREATED and the outcome event, each with the signal's dedupe key."""
    signal = outcome_signal(outcome)
    outcome_detail: dict[str, Any] = {
        "action_intent_id": outcome.action_intent_id,
        "tenant_id": outcome.tenant_id,
        "account_id": outcome.account_id,
        "status": outcome.status.value,
        "error_class": outcome.error_class.value if outcome.error_class else None,
        "error_code": outcome.error_code.value if outcome.error_code else None,
        "external_object_refs": [ref.model_dump(mode="json") for ref in outcome.external_object_refs],
        "completed_at": format_timestamp(outcome.completed_at),
        "trace_id": outcome.trace_id,
        "signal_id": signal.signal_id,
        "dedupe_key": signal.dedupe_key,
    }
    return [
        OutgoingEvent(
            SIGNAL_CREATED, {"signal": signal.model_dump(mode="json"), "dedupe_key": signal.dedupe_key}
        ),
        OutgoingEvent(signal.signal_type.value, outcome_detail),
    ]


@dataclass(frozen=True)
class OutcomeOutbox:
    publisher: EventPublisher

    def publish(self, outcome: ActionOutcome) -> None:
        self.publisher.publish(outcome_events(outcome))
