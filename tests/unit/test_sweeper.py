"""The sweeper's own rules, without a store: bounded by time, one attempt's trouble never stops the rest,
and what it cannot settle is put back for later (the end-to-end behaviour is in tests/e2e)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from execution_core.contracts import RecordDisposition, RecordResult
from execution_core.errors import DownstreamError
from execution_core.models import ExecutionAttempt, OutcomeStatus
from execution_core.services.executions import ExecutionState
from execution_core.services.failures import Failure
from execution_core.services.reconciler import (
    SETTLE_BUDGET_SECONDS,
    SWEEP_DEFER,
    SWEEP_GRACE,
    Disposition,
    Reconciler,
)
from tests.support import factories
from tests.support.factories import NOW


@dataclass
class FakeAttempts:
    running: list[ExecutionAttempt]
    deferred: list[tuple[str, datetime]] = field(default_factory=list)
    asked_due_before: list[datetime] = field(default_factory=list)

    def list_running(self, due_before: datetime, limit: int) -> list[ExecutionAttempt]:
        self.asked_due_before.append(due_before)
        return self.running[:limit]

    def defer_sweep(self, attempt: ExecutionAttempt, until: datetime) -> bool:
        self.deferred.append((attempt.action_intent_id, until))
        return True


@dataclass
class FakeExecutions:
    states: dict[str, ExecutionState | Exception]

    def describe(self, execution_arn: str) -> ExecutionState | None:
        state = self.states[execution_arn]
        if isinstance(state, Exception):
            raise state
        return state


def _attempt(arn: str) -> ExecutionAttempt:
    return factories.attempt(execution_arn=arn, started_at=NOW - timedelta(hours=1))


@dataclass
class FakeRecorder:
    """Records every settled attempt FAILED (what the effect store says is tested end to end), except the
    ones whose outcome is already there."""

    settled: list[str] = field(default_factory=list)
    already_recorded: set[str] = field(default_factory=set)

    def settle(self, attempt: ExecutionAttempt, failure: Failure) -> RecordResult:
        self.settled.append(attempt.action_intent_id)
        return RecordResult(
            disposition=RecordDisposition.ALREADY_RECORDED
            if attempt.action_intent_id in self.already_recorded
            else RecordDisposition.RECORDED,
            status=OutcomeStatus.FAILED,
            action_intent_id=attempt.action_intent_id,
        )


def _reconciler(
    attempts: FakeAttempts, executions: FakeExecutions, recorder: FakeRecorder | None = None
) -> Reconciler:
    # The resolver is only asked about writes in doubt, which these fakes never produce.
    return Reconciler(
        attempts=cast(Any, attempts),
        recorder=cast(Any, recorder or FakeRecorder()),
        executions=cast(Any, executions),
        resolver=cast(Any, None),
        clock=lambda: NOW,
    )


def test_a_running_execution_and_a_failed_lookup_are_deferred_and_the_rest_still_swept() -> None:
    running, broken, ended = _attempt("arn:running"), _attempt("arn:broken"), _attempt("arn:ended")
    attempts = FakeAttempts([running, broken, ended])
    executions = FakeExecutions(
        {
            "arn:running": ExecutionState("RUNNING"),
            "arn:broken": DownstreamError("Step Functions could not be reached"),
            "arn:ended": ExecutionState("SUCCEEDED"),
        }
    )
    report = _reconciler(attempts, executions).sweep()

    assert [(r.action_intent_id, r.disposition) for r in report.results] == [
        (running.action_intent_id, Disposition.STILL_RUNNING),
        (broken.action_intent_id, Disposition.ERROR),
        (ended.action_intent_id, Disposition.RECORDED),
    ]
    assert attempts.deferred == [
        (running.action_intent_id, NOW + SWEEP_DEFER),
        (broken.action_intent_id, NOW + SWEEP_DEFER),
    ]
    assert attempts.asked_due_before == [NOW - SWEEP_GRACE]


def test_no_attempt_is_started_without_the_time_to_settle_it() -> None:
    attempts = FakeAttempts([_attempt(f"arn:{n}") for n in range(3)])
    executions = FakeExecutions({f"arn:{n}": ExecutionState("RUNNING") for n in range(3)})
    clock = iter([SETTLE_BUDGET_SECONDS + 30, SETTLE_BUDGET_SECONDS + 1, SETTLE_BUDGET_SECONDS - 1])

    report = _reconciler(attempts, executions).sweep(seconds_left=lambda: next(clock))

    assert report.checked == 2
    assert report.left_for_next_run is True
    assert report.as_dict()["left_for_next_run"] is True


def test_a_dry_run_defers_nothing_and_include_deferred_reaches_every_running_attempt() -> None:
    attempts = FakeAttempts([_attempt("arn:running")])
    executions = FakeExecutions({"arn:running": ExecutionState("RUNNING")})

    _reconciler(attempts, executions).sweep(dry_run=True, include_deferred=True)

    assert attempts.deferred == []
    assert attempts.asked_due_before[0] > NOW + timedelta(days=300)  # deferred ones included


def test_a_running_attempt_whose_outcome_exists_goes_to_the_back_instead_of_blocking_the_queue() -> None:
    """An outcome stored while the attempt still says RUNNING (no pipeline path leaves that; a restored
    table can): nothing to record, and without a deferral it would head every page forever."""
    inconsistent, behind = _attempt("arn:inconsistent"), _attempt("arn:behind")
    attempts = FakeAttempts([inconsistent, behind])
    executions = FakeExecutions(
        {"arn:inconsistent": ExecutionState("SUCCEEDED"), "arn:behind": ExecutionState("FAILED")}
    )
    recorder = FakeRecorder(already_recorded={inconsistent.action_intent_id})

    report = _reconciler(attempts, executions, recorder).sweep()

    assert [(r.action_intent_id, r.disposition) for r in report.results] == [
        (inconsistent.action_intent_id, Disposition.ALREADY_RECORDED),
        (behind.action_intent_id, Disposition.RECORDED),
    ]
    assert attempts.deferred == [(inconsistent.action_intent_id, NOW + SWEEP_DEFER)]
