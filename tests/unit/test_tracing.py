"""Tracing: Powertools' Tracer only when tracing is on, so a disabled handler never imports the X-Ray SDK."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from execution_core import tracing

LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task"}


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        (LAMBDA, True),
        (LAMBDA | {"POWERTOOLS_TRACE_DISABLED": "false"}, True),
        (LAMBDA | {"POWERTOOLS_TRACE_DISABLED": "true"}, False),
        (LAMBDA | {"POWERTOOLS_TRACE_DISABLED": "1"}, False),
        (LAMBDA | {"AWS_SAM_LOCAL": "true"}, False),
        ({}, False),  # outside Lambda (tests, the local runtime): no X-Ray daemon to send to
        ({"POWERTOOLS_TRACE_DISABLED": "false"}, False),
    ],
)
def test_tracing_is_on_exactly_where_powertools_would_trace(environ: dict[str, str], enabled: bool) -> None:
    assert tracing.tracing_enabled(environ) is enabled


def test_disabled_tracing_leaves_the_handler_untouched_and_subsegments_do_nothing() -> None:
    off = tracing.start_tracing({})
    assert off.enabled is False

    def handler(event: Any, context: Any) -> str:
        return "ok"

    assert off.handler(handler) is handler
    with tracing.subsegment("recorder.transaction", tenant_id="t-1"):
        pass


class _Subsegment:
    def __init__(self) -> None:
        self.annotations: dict[str, object] = {}

    def put_annotation(self, key: str, value: object) -> None:
        self.annotations[key] = value


class _Provider:
    def __init__(self) -> None:
        self.opened: list[tuple[str, _Subsegment]] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str) -> Iterator[_Subsegment]:
        subsegment = _Subsegment()
        self.opened.append((name, subsegment))
        yield subsegment


class _FakeTracer:
    def __init__(self) -> None:
        self.provider = _Provider()


def test_subsegments_carry_only_valid_non_empty_annotations(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeTracer()
    monkeypatch.setitem(tracing._ACTIVE, "tracing", tracing.Tracing(fake))
    with tracing.subsegment("crm_adapter.act", tenant_id="t-1", action_type=None, **{"bad-key": "x"}):
        pass
    [(name, subsegment)] = fake.provider.opened
    assert name == "crm_adapter.act"
    assert subsegment.annotations == {"tenant_id": "t-1"}
