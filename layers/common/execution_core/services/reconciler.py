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
)
from execution_core.errors import DownstreamError, InvalidInputError
from execution_core.models import ExecutionAttempt, utc_now
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.services.effects import EffectState
from execution_core.services.executions import ExecutionState, StepFunctionsExecutions
from execution_core.services.failures import Failure
from execution_core.services.identity import lease_id_for
from execution_core.services.recording import OutcomeRecorder

SWEEP_GRACE = timedelta(minutes=2)  # younger attempts are left to the pipeline (and the finalizer)
SWEEP_LIMIT = 25  # attempts looked at per run: the sweeper's work is bounded
STAGE = "Reconciler"

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


@dataclass(frozen=True)
class Settled:
    disposition: Disposition
    action_intent_id: str
    status: str | None = None


@dataclass
class SweepReport:
    checked: int = 0
    results: list[Settled] = field(default_factory=list)

    def count(self, disposition: Disposition) -> int:
        return sum(1 for r in self.results if r.disposition is disposition)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
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
        if not attempt.adapter_function or not attempt.idempotency_key or not attempt.tool_name:
            return EffectState.IN_DOUBT
        request = {
            "resolve": {
                "tenant_id": attempt.tenant_id,
                "account_id": attempt.account_id,
                "action_intent_id": attempt.action_intent_id,
                "idempotency_key": attempt.idempotency_key,
                "tool_name": attempt.tool_name,
            }
        }
        try:
            response = self.lambda_client.invoke(
                FunctionName=attempt.adapter_function, Payload=json.dumps(request).encode()
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
        self, *, limit: int = SWEEP_LIMIT, dry_run: bool = False, older_than: timedelta = SWEEP_GRACE
    ) -> SweepReport:
        """Settle up to ``limit`` RUNNING attempts, oldest first, that started more than ``older_than`` ago
        and whose execution no longer runs."""
        report = SweepReport()
        for attempt in self.attempts.list_running(self.clock() - older_than, limit):
            report.checked += 1
            state = self.executions.describe(attempt.execution_arn) if attempt.execution_arn else None
            if state is not None and state.running:
                report.results.append(Settled(Disposition.STILL_RUNNING, attempt.action_intent_id))
                continue
            if dry_run:
                report.results.append(Settled(Disposition.WOULD_RECORD, attempt.action_intent_id))
                continue
            ended = state or ExecutionState("GONE")
            report.results.append(self._settle(attempt, _failure(attempt, ended)))
        return report

    # ------------------------------------------------------------------ shared
    def _settle(self, attempt: ExecutionAttempt, failure: Failure) -> Settled:
        result = self.recorder.settle(attempt, failure)
        if (
            result.disposition is RecordDisposition.IN_DOUBT
            and self.resolver.resolve(attempt) is not EffectState.IN_DOUBT
        ):
            result = self.recorder.settle(attempt, failure)  # the adapter settled the effect store: record it
        return _settled(result)


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
