"""A crash at each AWS call of a recorder, then a retry: the final records equal a clean run's.

The crash is injected in the DynamoDB client the recorder uses, before the call (nothing written) and
after it (written, but the function died before answering) — the two ways a Lambda can fail.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from execution_core.contracts import (
    ActionApprovedDetail,
    ActionApprovedEvent,
    RecordDisposition,
    RecordRequest,
    StartedExecution,
    StartRequest,
    ToolResult,
)
from execution_core.errors import DataStoreUnavailableError
from execution_core.models.execution import ExternalObjectRef, ExternalSystem
from execution_core.models.intent import ActionIntent, ActionTarget
from execution_core.repositories.signals import SignalRepository
from execution_core.services.recording import OutcomeRecorder
from execution_core.services.starter import ExecutionStarter
from local_runtime.emulator import LocalStack
from local_runtime.operations import Operations
from local_runtime.project import operations_for

pytestmark = pytest.mark.emulator


class InjectedCrashError(Exception):
    """The function died here."""


class CrashingClient:
    """Delegates to a real client; the `crash_at`-th call crashes before or after reaching DynamoDB."""

    def __init__(self, real: Any, crash_at: int, after: bool) -> None:
        self._real, self._crash_at, self._after, self.calls = real, crash_at, after, 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)
        if name == "exceptions" or not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            crash = self.calls == self._crash_at
            if crash and not self._after:
                raise InjectedCrashError(name)
            result = method(*args, **kwargs)
            if crash:
                raise InjectedCrashError(name)
            return result

        return call


@pytest.fixture(scope="module")
def ops(runtime: LocalStack) -> Operations:
    operations = operations_for(runtime)
    operations.publish_registry()
    return operations


def _started(ops: Operations, tenant_id: str) -> StartedExecution:
    now = datetime.now(UTC).replace(microsecond=0)
    intent = ActionIntent(
        action_intent_id=f"ai-{uuid.uuid4().hex[:12]}",
        action_type="CREATE_INTERNAL_NOTE",
        target=ActionTarget(entity_type="account", entity_id="acct-1"),
        parameters={"title": "Call back"},
        approved_by="reviewer@example.com",
        approval_timestamp=now,
        expires_at=now + timedelta(hours=1),
        expires_at_epoch=int((now + timedelta(hours=1)).timestamp()),
        original_decision_id="dec-1",
        tenant_id=tenant_id,
        account_id="acct-1",
        trace_id="trace-1",
        registry_version=1,
    )
    ops.put_intent(intent)
    starter = ExecutionStarter(ops.intents, ops.registry, ops.attempts, ops.ledger, lease_seconds=600)
    detail = ActionApprovedDetail(
        action_intent_id=intent.action_intent_id, tenant_id=tenant_id, account_id="acct-1"
    )
    execution_id = f"arn:aws:states:us-east-1:123456789012:execution:machine:{uuid.uuid4()}"
    return starter.start(StartRequest(event=ActionApprovedEvent(detail=detail), execution_id=execution_id))


def _tool_result(started: StartedExecution) -> ToolResult:
    return ToolResult(
        external_object_refs=[
            ExternalObjectRef(system=ExternalSystem.INTERNAL, object_type="NOTE", object_id="n-1")
        ],
        raw_response_artifact_ref=f"s3://bucket/{started.tenant_id}/acct-1/{started.action_intent_id}/a/r.json",
        tool_run_ref="n-1",
    )


def _failure_payload(started: StartedExecution) -> dict[str, Any]:
    return {
        "detail": {
            "action_intent_id": started.action_intent_id,
            "tenant_id": started.tenant_id,
            "account_id": started.account_id,
        },
        "start": {"result": started.model_dump(mode="json")},
        "failure": {
            "error": "AuthError",
            "cause": '{"errorType": "AuthError", "errorMessage": "token rejected", "stackTrace": ["x"]}',
            "execution_id": started.execution_id,
        },
    }


def _recorder(ops: Operations, client: Any, events_client: Any = None) -> OutcomeRecorder:
    from execution_core.repositories.attempts import ExecutionAttemptRepository
    from execution_core.repositories.ledger import LedgerRepository
    from execution_core.repositories.outcomes import ExecutionOutcomeRepository
    from execution_core.repositories.signals import SignalRepository
    from execution_core.services.events import EventPublisher
    from execution_core.services.signals import SignalService

    return OutcomeRecorder(
        client=client,
        attempts=ExecutionAttemptRepository(client, ops.outputs["ExecutionAttemptsTableName"]),
        outcomes=ExecutionOutcomeRepository(client, ops.outputs["ExecutionOutcomesTableName"]),
        ledger=LedgerRepository(client, ops.outputs["LedgerTableName"]),
        signals=SignalService(
            client=client,
            signals=SignalRepository(client, ops.outputs["SignalsTableName"]),
            ledger=LedgerRepository(client, ops.outputs["LedgerTableName"]),
        ),
        publisher=EventPublisher(
            client=events_client or ops.client("events"),
            bus_name=ops.outputs["ExecutionEventBusName"],
            source=ops.outputs["ExecutionEventSource"],
        ),
    )


def _final_records(ops: Operations, started: StartedExecution) -> dict[str, Any]:
    """The records of an intent without what legitimately differs between runs (ids and times)."""
    ignore = {
        "action_intent_id",
        "tenant_id",
        "started_at",
        "completed_at",
        "updated_at",
        "occurred_at",
        "raw_response_artifact_ref",
        "lease_id",
        "lease_expires_at",
        "execution_arn",
        "idempotency_key",
    }
    outcome = ops.outcome(started.tenant_id, started.account_id, started.action_intent_id)
    attempt = ops.attempt(started.tenant_id, started.account_id, started.action_intent_id)
    ledger = ops.ledger_entries(started.tenant_id, started.action_intent_id)
    return {
        "outcome": outcome.model_dump(exclude=ignore) if outcome else None,
        "attempt": attempt.model_dump(exclude=ignore) if attempt else None,
        "ledger": [
            {
                **e.model_dump(exclude=ignore),
                "details": {k: v for k, v in e.details.items() if k != "signal_id"},
            }
            for e in ledger
        ],
        "signals": [
            s.model_dump(include={"signal_type", "severity", "confidence"}, by_alias=False)
            for s in SignalRepository(ops.client("dynamodb"), ops.outputs["SignalsTableName"])
            .list_for_account(started.tenant_id, started.account_id, limit=100)
            .items
            if s.context.get("action_intent_id") == started.action_intent_id
        ],
    }


def _run(ops: Operations, kind: str, client: Any, started: StartedExecution) -> RecordDisposition:
    recorder = _recorder(ops, client)
    if kind == "success":
        return recorder.record_success(RecordRequest(start=started, tool=_tool_result(started))).disposition
    return recorder.record_failure(_failure_payload(started)).disposition


@pytest.mark.parametrize("kind", ["success", "failure"])
def test_crash_at_every_call_then_retry_equals_a_clean_run(
    ops: Operations, runtime: LocalStack, kind: str
) -> None:
    tenant_id = f"t-{uuid.uuid4().hex[:10]}"
    real = runtime.client("dynamodb")
    clean = _started(ops, tenant_id)
    counting = CrashingClient(real, crash_at=0, after=False)
    assert _run(ops, kind, counting, clean) is RecordDisposition.RECORDED
    expected = _final_records(ops, clean)
    assert expected["outcome"] is not None
    calls = counting.calls
    assert calls >= 1

    for crash_at in range(1, calls + 1):
        for after in (False, True):
            started = _started(ops, tenant_id)
            with pytest.raises(InjectedCrashError):
                _run(ops, kind, CrashingClient(real, crash_at, after), started)
            retried = _run(ops, kind, real, started)
            assert retried in {RecordDisposition.RECORDED, RecordDisposition.ALREADY_RECORDED}
            assert _final_records(ops, started) == expected, (crash_at, after)
            # And a further retry changes nothing.
            assert _run(ops, kind, real, started) is RecordDisposition.ALREADY_RECORDED
            assert _final_records(ops, started) == expected


def test_recorder_retried_five_times_and_concurrently_records_once(
    ops: Operations, runtime: LocalStack
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    started = _started(ops, f"t-{uuid.uuid4().hex[:10]}")

    def run_as_step_functions_would(_: int) -> RecordDisposition:
        # Concurrent transactions on one item may be cancelled as a conflict: a retryable error that
        # Step Functions retries; do the same here (bounded).
        for _attempt in range(5):
            try:
                return _run(ops, "success", runtime.client("dynamodb"), started)
            except DataStoreUnavailableError:
                time.sleep(0.05)
        raise AssertionError("still conflicting after 5 attempts")

    with ThreadPoolExecutor(max_workers=5) as pool:
        dispositions = list(pool.map(run_as_step_functions_would, range(5)))
    dispositions += [_run(ops, "success", runtime.client("dynamodb"), started) for _ in range(5)]

    assert dispositions.count(RecordDisposition.RECORDED) == 1
    assert set(dispositions) == {RecordDisposition.RECORDED, RecordDisposition.ALREADY_RECORDED}
    records = _final_records(ops, started)
    assert [e["event_type"] for e in records["ledger"]] == ["EXECUTION_STARTED", "ACTION_EXECUTED", "SIGNAL"]


def test_a_start_time_ahead_of_the_recorders_clock_still_records(
    ops: Operations, runtime: LocalStack
) -> None:
    """Hosts' clocks disagree slightly; the outcome must not be refused as 'completed before started'."""
    started = _started(ops, f"t-{uuid.uuid4().hex[:10]}")
    ahead = started.model_copy(update={"started_at": datetime.now(UTC) + timedelta(seconds=2)})
    assert _run(ops, "success", runtime.client("dynamodb"), ahead) is RecordDisposition.RECORDED
    outcome = ops.outcome(ahead.tenant_id, ahead.account_id, ahead.action_intent_id)
    assert outcome is not None
    assert outcome.completed_at >= outcome.started_at
