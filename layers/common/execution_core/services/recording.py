"""RecordOutcome and RecordFailure: the terminal records of an intent, written in one transaction.

Outcome (write-once) + attempt (RUNNING with this lease -> terminal) + ledger entry (deterministic key) +
signal commit together or not at all, and always together with a ConditionCheck on the effect store: the
outcome says SUCCEEDED exactly when the effect exists. Whatever failed, the failure path asks the effect
store what the idempotency key produced before it decides (effect found: SUCCEEDED with its refs; none:
FAILED / CANCELLED / EXPIRED; a connector write nobody could confirm: in doubt, left RUNNING for the
reconciler). A retry after a committed transaction finds the outcome in place and answers from it.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic

from execution_core.contracts import (
    ActionApprovedDetail,
    FailureRecordRequest,
    FailureState,
    PreparedExecution,
    RecordDisposition,
    RecordRequest,
    RecordResult,
    parse_payload,
)
from execution_core.errors import (
    Classification,
    DataStoreUnavailableError,
    EffectNotFoundError,
    ErrorClass,
    LeaseNotHeldError,
    StateConflictError,
    TransactionConditionFailedError,
)
from execution_core.models.common import utc_now
from execution_core.models.execution import (
    ActionOutcome,
    AttemptStatus,
    ExecutionAttempt,
    ExternalObjectRef,
    ExternalSystem,
    OutcomeStatus,
    PipelineStage,
)
from execution_core.models.intent import ActionIntent
from execution_core.models.ledger import LedgerEntry, LedgerEventType
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.dynamo import TransactItem, transact_write
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.outcomes import ExecutionOutcomeRepository
from execution_core.services.deterministic_ids import execution_name, lease_id_for
from execution_core.services.effects import Effect, EffectAddress, EffectState, EffectStore
from execution_core.services.failures import Failure, outcome_status_for
from execution_core.services.outbox import outcome_signal
from execution_core.services.signals import SignalService
from execution_core.tracing import subsegment

STAGES = ("PrepareExecution", "PerformAction", "RecordOutcome")
_EFFECT_LOOKUPS = 3  # the effect changed under the recorder this often in a row: let Step Functions retry


def failed_stage(state: FailureState) -> str:
    """Each step writes its own ResultPath, so the first missing result names the step that failed."""
    if state.prepared is None:
        return STAGES[0]
    if state.effect is None:
        return STAGES[1]
    return STAGES[2]


def _stage_of(outcome: ActionOutcome, stage: str | None) -> PipelineStage | None:
    """The step an unsuccessful outcome failed in (a success whatever failed names none). A stage name
    this version does not know is left out: a label never stops an outcome from being recorded."""
    if stage is None or outcome.status is OutcomeStatus.SUCCEEDED:
        return None
    try:
        return PipelineStage(stage)
    except ValueError:
        return None


@dataclass(frozen=True)
class Decision:
    """What a failure means once the effect store has answered (``status`` None: in doubt)."""

    status: OutcomeStatus | None
    ledger_event: LedgerEventType
    error: Classification | None
    message: str | None


def decide(failure: Failure, effect: Effect) -> Decision:
    """The effect store wins over the error path: an effect that exists is a success, whatever failed."""
    if effect.state is EffectState.PRESENT:
        return Decision(OutcomeStatus.SUCCEEDED, LedgerEventType.ACTION_EXECUTED, None, None)
    if effect.state is EffectState.IN_DOUBT:
        return Decision(None, LedgerEventType.ACTION_FAILED, failure.classification, failure.message)
    status, ledger_event = outcome_status_for(failure.error)
    return Decision(status, ledger_event, failure.classification, failure.message)


@dataclass(frozen=True)
class ExecutionFacts:
    """What an outcome and its signal say about the execution, from a trusted source (the stored attempt,
    the stored intent, or a prepared payload whose claims the transaction conditions verify)."""

    action_intent_id: str
    tenant_id: str
    account_id: str
    trace_id: str
    lease_id: str
    attempt_count: int
    started_at: datetime | None
    action_type: str | None = None
    original_decision_id: str | None = None
    tool_name: str | None = None
    tool_schema_version: str | None = None
    registry_version: int | None = None
    idempotency_key: str | None = None

    @classmethod
    def from_prepared(cls, prepared: PreparedExecution) -> "ExecutionFacts":
        return cls(
            action_intent_id=prepared.action_intent_id,
            tenant_id=prepared.tenant_id,
            account_id=prepared.account_id,
            trace_id=prepared.trace_id,
            lease_id=prepared.lease_id,
            attempt_count=prepared.attempt_count,
            started_at=prepared.started_at,
            action_type=prepared.action_type,
            original_decision_id=prepared.original_decision_id,
            tool_name=prepared.tool.tool_name,
            tool_schema_version=prepared.tool.tool_schema_version,
            registry_version=prepared.tool.registry_version,
            idempotency_key=prepared.idempotency_key,
        )

    @classmethod
    def from_attempt(cls, attempt: ExecutionAttempt) -> "ExecutionFacts":
        return cls(
            action_intent_id=attempt.action_intent_id,
            tenant_id=attempt.tenant_id,
            account_id=attempt.account_id,
            trace_id=attempt.trace_id,
            lease_id=attempt.lease_id,
            attempt_count=attempt.attempt_count,
            started_at=attempt.started_at,
            action_type=attempt.action_type,
            original_decision_id=attempt.original_decision_id,
            tool_name=attempt.tool_name,
            tool_schema_version=attempt.tool_schema_version,
            registry_version=attempt.registry_version,
            idempotency_key=attempt.idempotency_key,
        )

    @classmethod
    def from_intent(cls, intent: ActionIntent, lease_id: str, now: datetime) -> "ExecutionFacts":
        return cls(
            action_intent_id=intent.action_intent_id,
            tenant_id=intent.tenant_id,
            account_id=intent.account_id,
            trace_id=intent.trace_id,
            lease_id=lease_id,
            attempt_count=1,
            started_at=now,
            action_type=intent.action_type,
            original_decision_id=intent.original_decision_id,
            registry_version=intent.registry_version,
        )

    def address(self) -> EffectAddress | None:
        if self.tool_name is None or self.idempotency_key is None:
            return None
        return EffectAddress(self.tenant_id, self.account_id, self.tool_name, self.idempotency_key)


@dataclass(frozen=True)
class OutcomeRecorder:
    client: Any  # the DynamoDB client the repositories share: one transaction spans them
    attempts: ExecutionAttemptRepository
    outcomes: ExecutionOutcomeRepository
    ledger: LedgerRepository
    signals: SignalService
    effects: EffectStore
    intents: ActionIntentRepository
    clock: Callable[[], datetime] = utc_now

    # ------------------------------------------------------------------ success
    def record_success(self, request: RecordRequest) -> RecordResult:
        """Record the adapter's effect; the transaction verifies the lease, the key and the effect itself."""
        prepared, result = request.prepared, request.effect
        prepared.require_consistent_key()
        facts = ExecutionFacts.from_prepared(prepared)
        address = facts.address()
        if address is None:  # a prepared execution always has both
            raise StateConflictError("The prepared execution names no effect")
        self._require_expected_refs(address, result.external_object_refs)
        effect = Effect(
            EffectState.PRESENT,
            list(result.external_object_refs),
            result.raw_response_artifact_ref,
            result.tool_run_ref,
        )
        now = self.clock()
        outcome = self._outcome(facts, OutcomeStatus.SUCCEEDED, now, effect=effect)
        entries = [
            self.outcomes.outcome_put_item(outcome),
            self._finalize_attempt(facts, outcome),
            self.effects.still_check(address, effect),
            self.ledger.ledger_put_item(self._ledger(facts, LedgerEventType.ACTION_EXECUTED, now, outcome)),
        ]
        cancelled = self._commit(entries, outcome)
        if cancelled is None:
            return self._recorded(outcome)
        if cancelled.failed(0):
            existing = self._existing_result(facts)
            if existing.disposition is RecordDisposition.DUPLICATE:
                raise LeaseNotHeldError("Another execution recorded this intent")
            if existing.status is not OutcomeStatus.SUCCEEDED:
                raise StateConflictError("This execution's outcome is already recorded as unsuccessful")
            return existing
        if cancelled.failed(1):
            raise LeaseNotHeldError()
        if cancelled.failed(2):
            raise EffectNotFoundError()
        raise StateConflictError("The outcome transaction was refused for an unknown reason")

    @staticmethod
    def _require_expected_refs(address: EffectAddress, refs: Sequence[ExternalObjectRef]) -> None:
        """An internal object's ref follows from the key; a claimed ref that does not is refused."""
        if not address.internal:
            return  # a connector's ref is checked against ExternalWrites inside the transaction
        expected = (ExternalSystem.INTERNAL, address.internal_kind().value, address.internal_object_id())
        if [(r.system, r.object_type, r.object_id) for r in refs] != [expected]:
            raise EffectNotFoundError("The claimed object is not the one this idempotency key creates")

    # ------------------------------------------------------------------ failure
    def record_failure(self, payload: Any) -> RecordResult:
        """Record what a caught failure means, from the stored attempt and the effect store alone."""
        request = parse_payload(FailureRecordRequest, payload)
        state = request.state
        failure = Failure.caught(state.error.error, state.error.cause, failed_stage(state))
        try:
            detail = ActionApprovedDetail.model_validate(state.detail)
        except pydantic.ValidationError:
            # No trustworthy intent to write under: nothing is recorded; the handler counts and logs it.
            return RecordResult(
                disposition=RecordDisposition.NOT_EXECUTED, status=None, action_intent_id="unknown"
            )
        lease_id = lease_id_for(request.execution_id)
        attempt = self.attempts.get(detail.tenant_id, detail.account_id, detail.action_intent_id)
        if attempt is not None and attempt.lease_id == lease_id:
            if attempt.is_terminal:
                return self._existing_result(ExecutionFacts.from_attempt(attempt))
            return self.settle(attempt, failure)
        if attempt is not None:  # another execution owns (or finished) the intent; it records, not us
            return RecordResult(
                disposition=RecordDisposition.DUPLICATE, status=None, action_intent_id=detail.action_intent_id
            )
        return self._without_lease(detail, failure, request.execution_id)

    def settle(self, attempt: ExecutionAttempt, failure: Failure) -> RecordResult:
        """Finalize a RUNNING attempt after ``failure``: ask the effect store, then commit what it says."""
        facts = ExecutionFacts.from_attempt(attempt)
        address = facts.address()
        for _ in range(_EFFECT_LOOKUPS):
            effect = self.effects.lookup(address) if address else Effect(EffectState.ABSENT)
            decision = decide(failure, effect)
            if decision.status is None:
                return self._in_doubt(facts, failure)
            now = self.clock()
            outcome = self._outcome(facts, decision.status, now, effect=effect, decision=decision)
            entries = [
                self.outcomes.outcome_put_item(outcome),
                self._finalize_attempt(facts, outcome, failed_stage=failure.stage),
                *([self.effects.still_check(address, effect)] if address else []),
                self.ledger.ledger_put_item(
                    self._ledger(facts, decision.ledger_event, now, outcome, failed_stage=failure.stage)
                ),
            ]
            cancelled = self._commit(entries, outcome)
            if cancelled is None:
                return self._recorded(outcome)
            if cancelled.failed(0) or cancelled.failed(1):
                return self._existing_result(facts)
            if not (address and cancelled.failed(2)):
                raise StateConflictError("The outcome transaction was refused for an unknown reason")
            # The effect changed between the lookup and the commit (an adapter was still at work): look again.
        raise DataStoreUnavailableError("The effect kept changing while its outcome was being recorded")

    def _in_doubt(self, facts: ExecutionFacts, failure: Failure) -> RecordResult:
        """Nothing terminal: the attempt keeps its lease, flagged for the reconciler's lookup by key."""
        marked = self.attempts.mark_in_doubt(
            facts.tenant_id,
            facts.account_id,
            facts.action_intent_id,
            lease_id=facts.lease_id,
            now=self.clock(),
            error=failure.error,
            message=failure.message,
        )
        if not marked:
            return self._existing_result(facts)
        return RecordResult(
            disposition=RecordDisposition.IN_DOUBT,
            status=None,
            action_intent_id=facts.action_intent_id,
            error_class=failure.classification.error_class,
            error_code=failure.classification.error_code,
        )

    def _without_lease(
        self, detail: ActionApprovedDetail, failure: Failure, execution_id: str
    ) -> RecordResult:
        """PrepareExecution failed before taking the lease.

        A permanent validation failure of a stored intent (a missing parameter, an unknown registry
        version) is its outcome: the intent is immutable, so no later approval could do better. Anything
        else writes only an audit entry keyed by this execution, so it never blocks a later approval of
        the same intent: in the stored intent's partition, or, when no stored intent vouches for the
        tenant the event names, in the unattributed partition (an approval never writes into a tenant's
        records on its own say-so).
        """
        classification = failure.classification
        permanent = classification.error_class is ErrorClass.VALIDATION and not classification.retryable
        intent = self.intents.get(detail.tenant_id, detail.account_id, detail.action_intent_id)
        if intent is None or not permanent:
            return self._not_executed(detail, failure, execution_id, attributed=intent is not None)
        now = self.clock()
        facts = ExecutionFacts.from_intent(intent, lease_id_for(execution_id), now)
        status, ledger_event = outcome_status_for(failure.error)
        decision = Decision(status, ledger_event, classification, failure.message)
        outcome = self._outcome(facts, status, now, decision=decision)
        terminal = ExecutionAttempt(
            action_intent_id=intent.action_intent_id,
            tenant_id=intent.tenant_id,
            account_id=intent.account_id,
            status=AttemptStatus(outcome.status.value),
            attempt_count=1,
            lease_id=facts.lease_id,
            lease_expires_at=int(now.timestamp()),
            started_at=outcome.started_at,
            updated_at=outcome.completed_at,
            completed_at=outcome.completed_at,
            trace_id=intent.trace_id,
            execution_arn=execution_id,
            action_type=intent.action_type,
            original_decision_id=intent.original_decision_id,
            expires_at_epoch=intent.expires_at_epoch,
            approved_at=intent.approval_timestamp,
            error_class=outcome.error_class,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
            failed_stage=_stage_of(outcome, failure.stage),
        )
        entries = [
            self.outcomes.outcome_put_item(outcome),
            self.attempts.attempt_put_terminal_item(terminal),
            self.ledger.ledger_put_item(
                self._ledger(facts, ledger_event, now, outcome, failed_stage=failure.stage)
            ),
        ]
        if self._commit(entries, outcome) is None:
            return self._recorded(outcome)
        return self._existing_result(facts)

    def _not_executed(
        self, detail: ActionApprovedDetail, failure: Failure, execution_id: str, *, attributed: bool
    ) -> RecordResult:
        classification = failure.classification
        append = self.ledger.put if attributed else self.ledger.put_unattributed
        append(
            LedgerEntry(
                tenant_id=detail.tenant_id,
                account_id=detail.account_id,
                action_intent_id=detail.action_intent_id,
                event_type=LedgerEventType.APPROVAL_NOT_EXECUTED,
                occurred_at=self.clock(),
                trace_id=execution_name(execution_id),
                attempt_count=0,
                execution_name=execution_name(execution_id),
                details={
                    "error_class": classification.error_class.value,
                    "error_code": classification.error_code.value,
                    "failed_stage": failure.stage,
                    "message": failure.message[:200],
                },
            )
        )
        return RecordResult(
            disposition=RecordDisposition.NOT_EXECUTED,
            status=None,
            action_intent_id=detail.action_intent_id,
            error_class=classification.error_class,
            error_code=classification.error_code,
        )

    # ------------------------------------------------------------------ shared
    def _finalize_attempt(
        self, facts: ExecutionFacts, outcome: ActionOutcome, *, failed_stage: str | None = None
    ) -> TransactItem:
        """The attempt's summary is the outcome's (completion time included), so the status API shows the
        same row from either record."""
        return self.attempts.attempt_finalize_update(
            tenant_id=facts.tenant_id,
            account_id=facts.account_id,
            action_intent_id=facts.action_intent_id,
            lease_id=facts.lease_id,
            status=AttemptStatus(outcome.status.value),
            now=outcome.completed_at,
            error_class=outcome.error_class,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
            external_object_refs=outcome.external_object_refs,
            idempotency_key=facts.idempotency_key,
            failed_stage=_stage_of(outcome, failed_stage),
        )

    def _outcome(
        self,
        facts: ExecutionFacts,
        status: OutcomeStatus,
        now: datetime,
        *,
        effect: Effect | None = None,
        decision: Decision | None = None,
    ) -> ActionOutcome:
        present = effect is not None and effect.state is EffectState.PRESENT
        error = decision.error if decision is not None and status is not OutcomeStatus.SUCCEEDED else None
        started_at = facts.started_at or now
        return ActionOutcome(
            action_intent_id=facts.action_intent_id,
            status=status,
            external_object_refs=list(effect.refs) if effect is not None and present else [],
            error_class=error.error_class if error else None,
            error_code=error.error_code if error else None,
            error_message=decision.message if error and decision else None,
            attempt_count=max(facts.attempt_count, 1),
            tool_name=facts.tool_name,
            tool_schema_version=facts.tool_schema_version,
            registry_version=facts.registry_version,
            tool_run_ref=effect.tool_run_ref if effect is not None and present else None,
            raw_response_artifact_ref=effect.raw_response_artifact_ref
            if effect is not None and present
            else None,
            started_at=started_at,
            # Clocks of different hosts disagree a little: an outcome never completes before it started.
            completed_at=max(now, started_at),
            tenant_id=facts.tenant_id,
            account_id=facts.account_id,
            trace_id=facts.trace_id,
            action_type=facts.action_type,
            original_decision_id=facts.original_decision_id,
        )

    def _ledger(
        self,
        facts: ExecutionFacts,
        event_type: LedgerEventType,
        now: datetime,
        outcome: ActionOutcome,
        *,
        failed_stage: str | None = None,
    ) -> LedgerEntry:
        details: dict[str, str | int | None] = {
            "status": outcome.status.value,
            "tool_name": outcome.tool_name,
            "tool_run_ref": outcome.tool_run_ref,
            "error_class": outcome.error_class.value if outcome.error_class else None,
            "error_code": outcome.error_code.value if outcome.error_code else None,
            "failed_stage": failed_stage,
            "original_decision_id": facts.original_decision_id,
        }
        return LedgerEntry(
            tenant_id=facts.tenant_id,
            account_id=facts.account_id,
            action_intent_id=facts.action_intent_id,
            event_type=event_type,
            occurred_at=now,
            trace_id=outcome.trace_id,
            attempt_count=outcome.attempt_count,
            details={k: v for k, v in details.items() if v is not None},
        )

    def _commit(
        self, entries: list[TransactItem], outcome: ActionOutcome
    ) -> TransactionConditionFailedError | None:
        """Commit the entries plus the signal and its SIGNAL entry; a cancellation is returned.

        This transaction is the recorder's only write: the outcome's stream record publishes the events
        (services/outbox.py), so a recorder that dies right after its commit loses nothing.
        """
        signal = outcome_signal(outcome)  # what the outbox rebuilds from the stored outcome
        annotations = {"tenant_id": outcome.tenant_id, "action_type": outcome.action_type}
        try:
            with subsegment("recorder.transaction", **annotations, outcome=outcome.status.value):
                transact_write(
                    self.client, [*entries, *self.signals.transaction_items(signal, outcome.attempt_count)]
                )
        except TransactionConditionFailedError as cancelled:
            return cancelled
        return None

    @staticmethod
    def _recorded(outcome: ActionOutcome) -> RecordResult:
        return RecordResult(
            disposition=RecordDisposition.RECORDED,
            status=outcome.status,
            action_intent_id=outcome.action_intent_id,
            error_class=outcome.error_class,
            error_code=outcome.error_code,
        )

    def _existing_result(self, facts: ExecutionFacts) -> RecordResult:
        """Nothing was written: answer from the stored outcome (ours → already recorded, else duplicate)."""
        stored = self.outcomes.get(facts.tenant_id, facts.account_id, facts.action_intent_id)
        attempt = self.attempts.get(facts.tenant_id, facts.account_id, facts.action_intent_id)
        ours = attempt is not None and attempt.lease_id == facts.lease_id
        if stored is None or not ours:
            return RecordResult(
                disposition=RecordDisposition.DUPLICATE,
                status=stored.status if stored else None,
                action_intent_id=facts.action_intent_id,
            )
        return RecordResult(
            disposition=RecordDisposition.ALREADY_RECORDED,
            status=stored.status,
            action_intent_id=stored.action_intent_id,
            error_class=stored.error_class,
            error_code=stored.error_code,
        )
