"""EventPublisher: FailedEntryCount is checked and only the failed entries are sent again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from execution_core.errors import EventPublishError
from execution_core.services.events import MAX_ATTEMPTS, EventPublisher, OutgoingEvent


class FakeEvents:
    """Answers PutEvents from a script of per-entry results (None = accepted)."""

    def __init__(self, script: list[list[str | None]]) -> None:
        self.script = script
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls.append(Entries)
        codes = self.script.pop(0)
        assert len(codes) == len(Entries)
        return {
            "FailedEntryCount": sum(1 for c in codes if c),
            "Entries": [{"ErrorCode": c, "ErrorMessage": "x"} if c else {"EventId": "id"} for c in codes],
        }


EVENTS = [OutgoingEvent("SIGNAL_CREATED", {"dedupe_key": "k"}), OutgoingEvent("ACTION_EXECUTED", {"n": 1})]


def test_only_the_failed_entry_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("execution_core.services.events.time.sleep", lambda _: None)
    fake = FakeEvents([[None, "ThrottlingException"], [None]])

    EventPublisher(fake, "bus", "execution.layer").publish(EVENTS)

    assert len(fake.calls) == 2
    assert [e["DetailType"] for e in fake.calls[0]] == ["SIGNAL_CREATED", "ACTION_EXECUTED"]
    assert [e["DetailType"] for e in fake.calls[1]] == ["ACTION_EXECUTED"]
    assert json.loads(fake.calls[1][0]["Detail"]) == {"n": 1}
    assert fake.calls[1][0]["Source"] == "execution.layer"
    assert fake.calls[1][0]["EventBusName"] == "bus"


def test_retries_are_bounded_and_end_in_a_retryable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("execution_core.services.events.time.sleep", lambda _: None)
    fake = FakeEvents([["InternalFailure", None]] + [["InternalFailure"]] * (MAX_ATTEMPTS - 1))

    with pytest.raises(EventPublishError) as raised:
        EventPublisher(fake, "bus", "src").publish(EVENTS)

    assert len(fake.calls) == MAX_ATTEMPTS
    assert raised.value.retryable is True


def test_all_accepted_is_one_call() -> None:
    fake = FakeEvents([[None, None]])
    EventPublisher(fake, "bus", "src").publish(EVENTS)
    assert len(fake.calls) == 1
