"""RecordOutcome and RecordFailure: the terminal records of an intent, written in one transaction.

Outcome (write-once) + attempt (RUNNING with this lease -> terminal) + ledger entry (deterministic key)
commit together or not at all. A retry after a committed transaction finds every condition failed and
answers from what is stored: a success that changes nothing.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from execution_core.aws import aws_client
from execution_core.contracts import (
    FailureRecordRequest,
    RecordDisposition,
    RecordRequest,
    RecordResult,
    StartDisposition,
    StartedExecution,
    ToolResult,
    parse_payload,
)
from execution_core.errors import ErrorClass, ErrorCode, InvalidInputError, TransactionConditionFailedError
from execution_core.models.common import format_timestamp, utc_now
from execution_core.models.execution import (
    ActionOutcome,
    AttemptStatus,
    ExecutionAttempt,
    ExternalObjectRef,
    OutcomeStatus,
)
from execution_core.models.ledger import LedgerEntry, LedgerEventType
from execution_core.models.signal import Signal
from execution_core.observability import ObservabilitySettings
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.dynamo import TransactItem, transact_write
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.outcomes import ExecutionOutcomeRepository
from execution_core.repositories.signals import SignalRepository
from execution_core.services.events import EventPublisher, OutgoingEvent
from execution_core.services.failures import cause_message, classify_error_type, outcome_status_for
from execution_core.services.identity import execution_name, lease_id_for
from execution_core.services.signals import SignalService, build_execution_outcome_signal
from execution_core.settings import (
    EventBus,
    ExecutionAttemptsTable,
    ExecutionOutcomesTable,
    LedgerTable,
    SignalsTable,
)

STAGES = ("StartExecution", "ValidatePreflight", "InvokeTool", "RecordOutcome")


def failed_stage(request: FailureRecordRequest) -> str:
    """Each step writes its own ResultPath, so the first missing result names the step that failed."""
    present = [request.start, request.preflight, request.tool, request.record]
    for stage, result in zip(STAGES, present, strict=True):
        if result is None:
            return stage
    return "RecordOutcome"


@dataclass(frozen=True)
class OutcomeRecorder:
    client: Any  # the DynamoDB client the repositories share: one transaction spans them
    attempts: ExecutionAttemptRepository
    outcomes: ExecutionOutcomeRepository
    ledger: LedgerRepository
    signals: SignalService
    publisher: EventPublisher
    clock: Callable[[], datetime] = utc_now

    # ------------------------------------------------------------------ success
    def record_success(self, request: RecordRequest) -> RecordResult:
        start, tool = request.start, request.tool
        if start.disposition is not StartDisposition.STARTED or start.lease_id is None or start.tool is None:
            raise InvalidInputError("record needs a started execution")
        now = self.clock()
        outcome = self._outcome(start, OutcomeStatus.SUCCEEDED, now, tool=tool)
        entries = [
            self.outcomes.outcome_put_item(outcome),
            self.attempts.attempt_finalize_update(
                tenant_id=start.tenant_id,
                account_id=start.account_id,
                action_intent_id=start.action_intent_id,
                lease_id=start.lease_id,
                status=AttemptStatus.SUCCEEDED,
                now=now,
                external_object_refs=tool.external_object_refs,
            ),
            self.ledger.ledger_put_item(
                self._ledger(
                    start, LedgerEventType.ACTION_EXECUTED, now, outcome, tool_run_ref=tool.tool_run_ref
                )
            ),
        ]
        return self._commit(entries, start, start.lease_id, outcome)

    # ------------------------------------------------------------------ failure
    def record_failure(self, payload: Any) -> RecordResult:
        request = parse_payload(FailureRecordRequest, payload)
        classification = classify_error_type(request.failure.error)
        status, event_type = outcome_status_for(request.failure.error)
        message = (
            cause_message(request.failure.cause) or f"{classification.error_code.value} during execution"
        )
        stage = failed_stage(request)
        start = parse_payload(StartedExecution, request.start.result) if request.start is not None else None
        tool = parse_payload(ToolResult, request.tool.result) if request.tool is not None else None
        if start is not None and start.disposition is not StartDisposition.STARTED:
            raise InvalidInputError("a duplicate start has nothing to record")
        now = self.clock()
        lease_id = start.lease_id if start and start.lease_id else lease_id_for(request.failure.execution_id)
        start = start or self._pre_lease_start(request, lease_id, now)
        outcome = self._outcome(
            start,
            status,
            now,
            tool=tool,
            error=(classification.error_class, classification.error_code, message),
        )
        attempt_entry = self._failure_attempt_entry(start, lease_id, outcome, now)
        if attempt_entry is None:  # another execution owns (or finished) this intent
            return self._existing_result(start, lease_id)
        entries = [
            self.outcomes.outcome_put_item(outcome),
            attempt_entry,
            self.ledger.ledger_put_item(self._ledger(start, event_type, now, outcome, failed_stage=stage)),
        ]
        return self._commit(entries, start, lease_id, outcome)

    def _pre_lease_start(
        self, request: FailureRecordRequest, lease_id: str, now: datetime
    ) -> StartedExecution:
        """StartExecution failed: only the event is known (the intent may not even exist)."""
        detail = request.detail
        return StartedExecution(
            disposition=StartDisposition.STARTED,
            action_intent_id=detail.action_intent_id,
            tenant_id=detail.tenant_id,
            account_id=detail.account_id,
            execution_id=request.failure.execution_id,
            lease_id=lease_id,
            attempt_count=1,
            trace_id=execution_name(request.failure.execution_id),
            started_at=now,
        )

    def _failure_attempt_entry(
        self, start: StartedExecution, lease_id: str, outcome: ActionOutcome, now: datetime
    ) -> TransactItem | None:
        """Close our RUNNING attempt, or create a terminal one if the failure came before any lease."""
        current = self.attempts.get(start.tenant_id, start.account_id, start.action_intent_id)
        if current is not None and (current.is_terminal or current.lease_id != lease_id):
            return None
        if current is not None:
            return self.attempts.attempt_finalize_update(
                tenant_id=start.tenant_id,
                account_id=start.account_id,
                action_intent_id=start.action_intent_id,
                lease_id=lease_id,
                status=AttemptStatus(outcome.status.value),
                now=now,
                error_class=outcome.error_class,
                error_code=outcome.error_code,
                error_message=outcome.error_message,
                external_object_refs=outcome.external_object_refs,
            )
        return self.attempts.attempt_put_terminal_item(
            ExecutionAttempt(
                action_intent_id=start.action_intent_id,
                tenant_id=start.tenant_id,
                account_id=start.account_id,
                status=AttemptStatus(outcome.status.value),
                attempt_count=max(start.attempt_count, 1),
                lease_id=lease_id,
                lease_expires_at=int(now.timestamp()),
                started_at=outcome.started_at,
                updated_at=outcome.completed_at,
                completed_at=outcome.completed_at,
                trace_id=outcome.trace_id,
                execution_arn=start.execution_id,
                error_class=outcome.error_class,
                error_code=outcome.error_code,
                error_message=outcome.error_message,
            )
        )

    # ------------------------------------------------------------------ shared
    def _outcome(
        self,
        start: StartedExecution,
        status: OutcomeStatus,
        now: datetime,
        *,
        tool: ToolResult | None = None,
        error: tuple[ErrorClass, ErrorCode, str] | None = None,
    ) -> ActionOutcome:
        refs: Sequence[ExternalObjectRef] = tool.external_object_refs if tool else ()
        return ActionOutcome(
            action_intent_id=start.action_intent_id,
            status=status,
            external_object_refs=list(refs),
            error_class=error[0] if error else None,
            error_code=error[1] if error else None,
            error_message=error[2] if error else None,
            attempt_count=max(start.attempt_count, 1),
            tool_name=start.tool.tool_name if start.tool else None,
            tool_schema_version=start.tool.tool_schema_version if start.tool else None,
            registry_version=start.tool.registry_version if start.tool else None,
            tool_run_ref=tool.tool_run_ref if tool else None,
            raw_response_artifact_ref=tool.raw_response_artifact_ref if tool else None,
            started_at=start.started_at or now,
            # Clocks of different hosts disagree a little: an outcome never completes before it started.
            completed_at=max(now, start.started_at or now),
            tenant_id=start.tenant_id,
            account_id=start.account_id,
            trace_id=start.trace_id or execution_name(start.execution_id),
        )

    def _ledger(
        self,
        start: StartedExecution,
        event_type: LedgerEventType,
        now: datetime,
        outcome: ActionOutcome,
        *,
        tool_run_ref: str | None = None,
        failed_stage: str | None = None,
    ) -> LedgerEntry:
        details: dict[str, str | int | None] = {
            "status": outcome.status.value,
            "tool_name": outcome.tool_name,
            "tool_run_ref": tool_run_ref,
            "error_class": outcome.error_class.value if outcome.error_class else None,
            "error_code": outcome.error_code.value if outcome.error_code else None,
            "failed_stage": failed_stage,
            "original_decision_id": start.original_decision_id,
        }
        return LedgerEntry(
            tenant_id=start.tenant_id,
            account_id=start.account_id,
            action_intent_id=start.action_intent_id,
            event_type=event_type,
            occurred_at=now,
            trace_id=outcome.trace_id,
            attempt_count=outcome.attempt_count,
            details={k: v for k, v in details.items() if v is not None},
        )

    def _commit(
        self, entries: list[TransactItem], start: StartedExecution, lease_id: str, outcome: ActionOutcome
    ) -> RecordResult:
        """Commit outcome + attempt + ledger entry + signal + SIGNAL entry together, then publish.

        A retry whose transaction finds everything in place publishes again from the stored outcome:
        the signal is a pure function of it, so every publish carries the same dedupe key.
        """
        signal = build_execution_outcome_signal(outcome, start, outcome.trace_id, outcome.completed_at)
        all_entries = [*entries, *self.signals.transaction_items(signal, outcome.attempt_count)]
        try:
            transact_write(self.client, all_entries)
        except TransactionConditionFailedError:
            return self._existing_result(start, lease_id)
        self._publish(outcome, signal)
        return RecordResult(
            disposition=RecordDisposition.RECORDED,
            status=outcome.status,
            action_intent_id=outcome.action_intent_id,
            error_class=outcome.error_class,
            error_code=outcome.error_code,
        )

    def _existing_result(self, start: StartedExecution, lease_id: str) -> RecordResult:
        """Nothing was written: answer from the stored outcome (ours → already recorded, else duplicate)."""
        stored = self.outcomes.get(start.tenant_id, start.account_id, start.action_intent_id)
        attempt = self.attempts.get(start.tenant_id, start.account_id, start.action_intent_id)
        ours = attempt is not None and attempt.lease_id == lease_id
        if stored is None or not ours:
            # Another execution holds or finished the intent; it records and publishes, not us.
            return RecordResult(
                disposition=RecordDisposition.DUPLICATE,
                status=stored.status if stored else None,
                action_intent_id=start.action_intent_id,
            )
        # Ours and committed: a crash may have come before the publish, so publish (again).
        self._publish(
            stored, build_execution_outcome_signal(stored, start, stored.trace_id, stored.completed_at)
        )
        return RecordResult(
            disposition=RecordDisposition.ALREADY_RECORDED,
            status=stored.status,
            action_intent_id=stored.action_intent_id,
            error_class=stored.error_class,
            error_code=stored.error_code,
        )

    def _publish(self, outcome: ActionOutcome, signal: Signal) -> None:
        """SIGNAL_CREATED and the outcome event, each with the signal's dedupe key (at-least-once)."""
        outcome_detail = {
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
        self.publisher.publish(
            [
                OutgoingEvent(
                    "SIGNAL_CREATED",
                    {"signal": signal.model_dump(mode="json"), "dedupe_key": signal.dedupe_key},
                ),
                OutgoingEvent(signal.signal_type.value, outcome_detail),
            ]
        )


class RecorderSettings(
    ExecutionAttemptsTable, ExecutionOutcomesTable, LedgerTable, SignalsTable, EventBus, ObservabilitySettings
):
    """What both recorders read from their environment (their template entries are identical)."""


def build_outcome_recorder(settings: RecorderSettings) -> OutcomeRecorder:
    """Both recorders' container-scoped wiring: one DynamoDB client shared by the transaction's tables."""
    dynamodb = aws_client("dynamodb")
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
        publisher=EventPublisher(
            client=aws_client("events"),
            bus_name=settings.event_bus_name,
            source=settings.execution_event_source,
        ),
    )
