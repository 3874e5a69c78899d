"""The transactional outbox (services/outbox.py) with an in-memory EventBridge client: an outcome becomes
SIGNAL_CREATED and its outcome event, both carrying the dedupe key of the signal the recorder stored, so a
publisher retried after a partial failure publishes the same events again (consumers drop repeats by key)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from execution_core.models import ActionOutcome
from execution_core.services.events import EventPublisher
from execution_core.services.outbox import SIGNAL_CREATED, OutcomeOutbox, outcome_signal
from tests.support import factories


@dataclass
class FakeEventBridge:
    """put_events: every entry accepted, each call remembered."""

    calls: list[list[dict[str, Any]]] = field(default_factory=list)

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls.append(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i, _ in enumerate(Entries)]}


def _published(outcome: ActionOutcome) -> list[tuple[str, dict[str, Any]]]:
    client = FakeEventBridge()
    OutcomeOutbox(EventPublisher(client, "bus", "bel.execution")).publish(outcome)
    [entries] = client.calls  # both events in one PutEvents call
    assert {(e["EventBusName"], e["Source"]) for e in entries} == {("bus", "bel.execution")}
    return [(e["DetailType"], json.loads(e["Detail"])) for e in entries]


def test_a_success_publishes_the_stored_signal_and_action_executed_under_one_dedupe_key() -> None:
    outcome = factories.outcome()
    signal = outcome_signal(outcome)

    [(first, created), (second, executed)] = _published(outcome)

    assert (first, second) == (SIGNAL_CREATED, "ACTION_EXECUTED")
    assert created == {"signal": signal.model_dump(mode="json"), "dedupe_key": signal.dedupe_key}
    assert executed["dedupe_key"] == signal.dedupe_key
    assert executed["signal_id"] == signal.signal_id
    assert (executed["status"], executed["error_class"], executed["error_code"]) == ("SUCCEEDED", None, None)
    assert executed["external_object_refs"] == [
        r.model_dump(mode="json") for r in outcome.external_object_refs
    ]
    assert (executed["tenant_id"], executed["account_id"]) == (outcome.tenant_id, outcome.account_id)


def test_a_failure_publishes_action_failed_with_its_classified_error() -> None:
    outcome = factories.failed_outcome()
    [(_, created), (kind, failed)] = _published(outcome)
    assert kind == "ACTION_FAILED"
    assert (failed["status"], failed["error_class"], failed["error_code"]) == (
        "FAILED",
        "DOWNSTREAM",
        "DOWNSTREAM_ERROR",
    )
    assert failed["external_object_refs"] == []
    assert created["dedupe_key"] == failed["dedupe_key"]


def test_publishing_the_same_outcome_again_sends_byte_identical_events() -> None:
    # What a retried stream batch does: the consumers' dedupe by key only works if nothing else changes.
    outcome = factories.outcome()
    client = FakeEventBridge()
    outbox = OutcomeOutbox(EventPublisher(client, "bus", "bel.execution"))
    outbox.publish(outcome)
    outbox.publish(outcome)
    first, again = client.calls
    assert first == again


def test_different_outcomes_of_one_intent_never_share_a_dedupe_key() -> None:
    succeeded = factories.outcome()
    failed = factories.failed_outcome(
        action_intent_id=succeeded.action_intent_id,
        tenant_id=succeeded.tenant_id,
        trace_id=succeeded.trace_id,
    )
    keys = {detail["dedupe_key"] for o in (succeeded, failed) for _, detail in _published(o)}
    assert len(keys) == 2  # one per outcome: each outcome's two events share theirs
