"""The reconciler: every started execution ends with an outcome, even one that ended outside the pipeline.

Two ways in, one way to record:

* the finalizer: Step Functions' "Execution Status Change" event of an execution that ended ABORTED,
  TIMED_OUT or FAILED while its attempt is still RUNNING;
* the sweeper (scheduled, bounded work per run): RUNNING attempts whose execution is no longer running,
  the safety net for a lost status-change event or a failure recorder that exhausted its retries.

Both settle the attempt exactly as RecordFailure does (OutcomeRecorder.settle: the effect store decides,
same transaction conditions, same deterministic keys), so they are idempotent with every other recorder.
A connector write left in doubt is settled by asking the adapter to look it up by its idempotency key.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import pydantic
from botocore.exceptions import BotoCoreError, ClientError

from execution_core.contracts import (
    ActionApprovedDetail,
    ActionApprovedEvent,
    OpenModel,
    RecordDisposition,
    RecordResult,
    live_alias_arn,
)
from execution_core.errors import DownstreamError, ExecutionError, InvalidInputError
from execution_core.models.common import utc_now
from execution_core.models.execution import ExecutionAttempt
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.services.deterministic_ids import lease_id_for
from execution_core.services.effects import EffectState
from execution_core.services.executions import ExecutionState, StepFunctionsExecutions
from execution_core.services.failures import Failure
from execution_core.services.recording import OutcomeRecorder

SWEEP_GRACE = timedelta(minutes=2)  # younger attempts are left to the pipeline (and the finalizer)
SWEEP_LIMIT = 25  # attempts looked at per run: the sweeper's work is bounded
SWEEP_DEFER = timedelta(minutes=5)  # an attempt it could not settle waits this long (one schedule period)
# Time one attempt can take to settle: the adapter's lookup (its 45 s timeout) plus the writes around it.
# The sweeper starts no attempt with less time left, so a run always ends by itself, never by a timeout.
SETTLE_BUDGET_SECONDS = 60.0
STAGE = "Reconciler"
_log = logging.getLogger(__name__)

# How an execution that ended without recording is described, by its status.
_ENDED_AS = {
    "ABORTED": ("ExecutionAbortedError", "The execution was stopped before it recorded an outcome"),
    "TIMED_OUT": ("ExecutionTimedOutError", "The execution timed out before it recorded an outcome"),
}


class ExecutionStatusChange(OpenModel):
    """The detail of a Step Functions "Execution Status Change" event (the fields the finalizer reads)."""

    execution_arn: str = pydantic.Field(alias="executionArn")
    status: str
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class Disposition(StrEnum):
    RECORDED = "RECORDED"  # an outcome was written now
    ALREADY_RECORDED = "ALREADY_RECORDED"  # nothing to do: the pipeline (or an earlier run) recorded it
    STILL_RUNNING = "STILL_RUNNING"  # the execution runs: not ours to settle
    IN_DOUBT = "IN_DOUBT"  # the effect may exist and the lookup could not settle it yet
    NOT_OURS = "NOT_OURS"  # no attempt, or one another execution holds
    WOULD_RECORD = "WOULD_RECORD"  # dry run
    ERROR = "ERROR"  # settling failed (a store or service was unavailable): deferred, tried again later


@dataclass(frozen=True)
class Settled:
    disposition: Disposition
    action_intent_id: str
    status: str | None = None


@dataclass
class SweepReport:
    checked: int = 0
    results: list[Settled] = field(default_factory=list)
    left_for_next_run: bool = False  # the run's time was up before its page was done

    def count(self, disposition: Disposition) -> int:
        return sum(1 for r in self.results if r.disposition is disposition)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "left_for_next_run": self.left_for_next_run,
            **{d.value.lower(): self.count(d) for d in Disposition},
            "results": [
                {
                    "action_intent_id": r.action_intent_id,
                    "disposition": r.disposition.value,
                    "status": r.status,
                }
                for r in self.results
            ],
        }


@dataclass(frozen=True)
class EffectResolver:
    """Asks a connector adapter to settle an in-doubt write by a lookup of its idempotency key.

    The adapter owns the connector's credentials; the reconciler only invokes it (one synchronous call).
    """

    lambda_client: Any

    def resolve(self, attempt: ExecutionAttempt) -> EffectState:
        adapter = attempt.adapter_function
        if not (adapter and attempt.idempotency_key and attempt.tool_name and attempt.action_type):
            return EffectState.IN_DOUBT
        request = {
            "resolve": {
                "tenant_id": attempt.tenant_id,
                "account_id": attempt.account_id,
                "action_intent_id": attempt.action_intent_id,
                "action_type": attempt.action_type,  # its kill switch covers the lookup too
                "idempotency_key": attempt.idempotency_key,
                "tool_name": attempt.tool_name,
            }
        }
        try:
            # The adapter's live alias, also for an attempt that named the unqualified function (ADR 0013).
            response = self.lambda_client.invoke(
                FunctionName=live_alias_arn(adapter), Payload=json.dumps(request).encode()
            )
            payload: Any = json.loads(response["Payload"].read() or b"null")
        except (ClientError, BotoCoreError) as exc:
            raise DownstreamError(
                f"the adapter could not be asked to settle the write ({type(exc).__name__})"
            ) from exc
        if response.get("FunctionError") or not isinstance(payload, dict):
            return EffectState.IN_DOUBT  # the lookup failed: still in doubt, the next sweep asks again
        return EffectState(payload.get("state", EffectState.IN_DOUBT.value))


@dataclass(frozen=True)
class Reconciler:
    attempts: ExecutionAttemptRepository
    recorder: OutcomeRecorder
    executions: StepFunctionsExecutions
    resolver: EffectResolver
    clock: Callable[[], datetime] = utc_now

    # ------------------------------------------------------------------ the finalizer
    def finalize(self, change: ExecutionStatusChange) -> Settled:
        detail = _approval_detail(change.input)
        if detail is None:  # no input to find the attempt by: the sweeper will find it instead
            return Settled(Disposition.NOT_OURS, "unknown")
        attempt = self.attempts.get(detail.tenant_id, detail.account_id, detail.action_intent_id)
        if attempt is None or attempt.lease_id != lease_id_for(change.execution_arn):
            return Settled(Disposition.NOT_OURS, detail.action_intent_id)
        if attempt.is_terminal:
            return Settled(Disposition.ALREADY_RECORDED, attempt.action_intent_id, attempt.status.value)
        ended = ExecutionState(change.status, change.error, change.cause)
        return self._settle(attempt, _failure(attempt, ended))

    # ------------------------------------------------------------------ the sweeper
    def sweep(
        self,
        *,
        limit: int = SWEEP_LIMIT,
        dry_run: bool = False,
        older_than: timedelta = SWEEP_GRACE,
        include_deferred: bool = False,
        seconds_left: Callable[[], float] | None = None,
    ) -> SweepReport:
        """Settle up to ``limit`` RUNNING attempts, oldest first, that started more than ``older_than`` ago
        and whose execution no longer runs.

        One it does not record (still running, in doubt, an error, or already recorded) is deferred by
        SWEEP_DEFER, so it never blocks the attempts behind it; ``include_deferred`` (an operator's
        "everything, now") ignores that. No attempt is started with less than SETTLE_BUDGET_SECONDS of
        ``seconds_left``.
        """
        report = SweepReport()
        now = self.clock()
        due_before = now + timedelta(days=366) if include_deferred else now - older_than
        for attempt in self.attempts.list_running(due_before, limit):
            if seconds_left is not None and seconds_left() < SETTLE_BUDGET_SECONDS:
                report.left_for_next_run = True
                break
            if not include_deferred and attempt.started_at >= now - older_than:
                continue  # deferred into the grace window's range, but started too recently
            report.checked += 1
            settled = self._sweep_one(attempt, dry_run)
            report.results.append(settled)
            if not dry_run and settled.disposition is not Disposition.RECORDED:
                self._put_back(attempt, settled)
        return report

    def _put_back(self, attempt: ExecutionAttempt, settled: Settled) -> None:
        """Whatever the run did not record stays RUNNING, so it goes to the back of the queue: one the
        sweeper cannot settle, and one whose outcome exists though the attempt still says RUNNING (a
        record no pipeline path leaves, e.g. a table restored on its own), which would otherwise come
        first on every run and block the attempts behind it."""
        if settled.disposition not in _UNSETTLED:
            _log.warning(
                "sweeper found a RUNNING attempt it has nothing to record for",
                extra={
                    "action_intent_id": attempt.action_intent_id,
                    "disposition": settled.disposition.value,
                },
            )
        self.attempts.defer_sweep(attempt, self.clock() + SWEEP_DEFER)

    def _sweep_one(self, attempt: ExecutionAttempt, dry_run: bool) -> Settled:
        try:
            state = self.executions.describe(attempt.execution_arn) if attempt.execution_arn else None
            if state is not None and state.running:
                return Settled(Disposition.STILL_RUNNING, attempt.action_intent_id)
            if dry_run:
                return Settled(Disposition.WOULD_RECORD, attempt.action_intent_id)
            return self._settle(attempt, _failure(attempt, state or ExecutionState("GONE")))
        except ExecutionError as exc:  # one attempt's trouble never stops the sweep of the others
            _log.warning(
                "sweeper could not settle an attempt",
                extra={"action_intent_id": attempt.action_intent_id, "error": type(exc).__name__},
            )
            return Settled(Disposition.ERROR, attempt.action_intent_id)

    # ------------------------------------------------------------------ shared
    def _settle(self, attempt: ExecutionAttempt, failure: Failure) -> Settled:
        result = self.recorder.settle(attempt, failure)
        if (
            result.disposition is RecordDisposition.IN_DOUBT
            and self.resolver.resolve(attempt) is not EffectState.IN_DOUBT
        ):
            result = self.recorder.settle(attempt, failure)  # the adapter settled the effect store: record it
        return _settled(result)


_UNSETTLED = frozenset({Disposition.STILL_RUNNING, Disposition.IN_DOUBT, Disposition.ERROR})


def _settled(result: RecordResult) -> Settled:
    disposition = {
        RecordDisposition.RECORDED: Disposition.RECORDED,
        RecordDisposition.ALREADY_RECORDED: Disposition.ALREADY_RECORDED,
        RecordDisposition.IN_DOUBT: Disposition.IN_DOUBT,
    }.get(result.disposition, Disposition.NOT_OURS)
    return Settled(disposition, result.action_intent_id, result.status.value if result.status else None)


def _failure(attempt: ExecutionAttempt, ended: ExecutionState) -> Failure:
    """What to record if the effect store holds nothing: the error the pipeline left, else how it ended."""
    if attempt.last_error:
        return Failure(attempt.last_error, attempt.error_message or "", STAGE)
    if ended.status in _ENDED_AS:
        error, message = _ENDED_AS[ended.status]
        return Failure(error, message, STAGE)
    how = f"{ended.status} ({ended.error})" if ended.error else ended.status
    return Failure(
        "ExecutionEndedUnrecordedError", f"The execution ended {how} without recording an outcome", STAGE
    )


def _approval_detail(execution_input: str | None) -> ActionApprovedDetail | None:
    if not execution_input:
        return None
    try:
        return ActionApprovedEvent.model_validate(json.loads(execution_input)).detail
    except (ValueError, pydantic.ValidationError):
        return None


def parse_status_change(event: Any) -> ExecutionStatusChange:
    try:
        return ExecutionStatusChange.model_validate(event["detail"])
    except (KeyError, TypeError, pydantic.ValidationError):
        raise InvalidInputError("not a Step Functions execution status change") from None


__all__ = [
    "Disposition",
    "EffectResolver",
    "ExecutionStatusChange",
    "Reconciler",
    "Settled",
    "SweepReport",
    "parse_status_change",
]
