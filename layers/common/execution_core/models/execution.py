"""Execution records: the attempt (the lease), the write-once outcome, and the API's status view."""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models.common import FrozenModel, Identifier, SafeMessage, ShortText, UtcDatetime

ArtifactRef = Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S{1,1024}$")]


class ExternalSystem(StrEnum):
    CRM = "CRM"
    INTERNAL = "INTERNAL"


class ExternalObjectRef(FrozenModel):
    """A pointer to the object the action created, in the system that owns it."""

    system: ExternalSystem
    object_type: Identifier
    object_id: Annotated[str, Field(min_length=1, max_length=256)]
    object_url: Annotated[str, Field(max_length=2048)] | None = None


class AttemptStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class OutcomeStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class ApiStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class PipelineStage(StrEnum):
    """Where an unsuccessful execution failed: one of the state machine's steps, or Reconciler when the
    execution ended without recording its own outcome and the reconciler recorded it."""

    PREPARE = "PrepareExecution"
    PERFORM = "PerformAction"
    RECORD = "RecordOutcome"
    RECONCILER = "Reconciler"


class CompensationStatus(StrEnum):
    NOT_REQUIRED = "NOT_REQUIRED"
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class ExecutionAttempt(FrozenModel):
    """The lease on an intent plus a summary of its outcome, so listings need no second read."""

    action_intent_id: Identifier
    tenant_id: Identifier
    account_id: Identifier
    status: AttemptStatus
    attempt_count: Annotated[int, Field(ge=1)]
    lease_id: ShortText
    lease_expires_at: Annotated[int, Field(ge=0)]
    started_at: UtcDatetime
    updated_at: UtcDatetime
    completed_at: UtcDatetime | None = None
    trace_id: Identifier
    execution_arn: Annotated[str, Field(max_length=2048)] | None = None
    idempotency_key: ShortText | None = None
    # What the recorders, the finalizer and the sweeper need to ask the effect store about this attempt
    # and to build its outcome without trusting any step payload (written by PrepareExecution).
    action_type: Identifier | None = None
    original_decision_id: Identifier | None = None
    tool_name: Identifier | None = None
    tool_schema_version: ShortText | None = None
    registry_version: Annotated[int, Field(ge=1)] | None = None
    adapter_function: Annotated[str, Field(max_length=256)] | None = None
    expires_at_epoch: Annotated[int, Field(ge=0)] | None = None
    # Copied from the intent when the lease is taken, so a list row is labelled from this item alone.
    approved_at: UtcDatetime | None = None
    in_doubt: bool = False
    # While in doubt: the error the pipeline gave up with (its message is error_message), so the reconciler
    # records it if the write turns out not to have happened.
    last_error: Annotated[str, Field(max_length=256)] | None = None
    error_class: ErrorClass | None = None
    error_code: ErrorCode | None = None
    error_message: SafeMessage | None = None
    # The pipeline step that failed (PrepareExecution, PerformAction, RecordOutcome), when one did.
    failed_stage: PipelineStage | None = None
    external_object_refs: list[ExternalObjectRef] = Field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status is not AttemptStatus.RUNNING


class ActionOutcome(FrozenModel):
    """The single, write-once result of an intent (docs/architecture.md §3.8)."""

    action_intent_id: Identifier
    status: OutcomeStatus
    external_object_refs: list[ExternalObjectRef] = Field(default_factory=list)
    error_code: ErrorCode | None = None
    error_class: ErrorClass | None = None
    error_message: SafeMessage | None = None
    attempt_count: Annotated[int, Field(ge=0)]
    tool_name: Identifier | None = None
    tool_schema_version: ShortText | None = None
    registry_version: Annotated[int, Field(ge=1)] | None = None
    tool_run_ref: ShortText | None = None
    raw_response_artifact_ref: ArtifactRef | None = None
    started_at: UtcDatetime
    completed_at: UtcDatetime
    compensation_status: CompensationStatus = CompensationStatus.NOT_REQUIRED
    tenant_id: Identifier
    account_id: Identifier
    trace_id: Identifier
    # What the outcome signal says about the intent: kept here so the outbox publisher rebuilds exactly
    # the signal the recorder stored, from the outcome's stream record alone.
    action_type: Identifier | None = None
    original_decision_id: Identifier | None = None

    @model_validator(mode="after")
    def _errors_match_status(self) -> Self:
        has_error = self.error_code is not None or self.error_class is not None
        if self.status is OutcomeStatus.SUCCEEDED and has_error:
            raise ValueError("a SUCCEEDED outcome carries no error")
        if self.status is not OutcomeStatus.SUCCEEDED and (
            self.error_code is None or self.error_class is None
        ):
            raise ValueError("an unsuccessful outcome needs error_code and error_class")
        if self.completed_at < self.started_at:
            raise ValueError("completed_at is before started_at")
        return self


class ExecutionStatus(FrozenModel):
    """What the status API returns for one intent: a detail and a list row have this one shape."""

    action_intent_id: Identifier
    status: ApiStatus
    action_type: Identifier | None = None
    account_id: Identifier | None = None
    approved_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None
    started_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None
    external_object_refs: list[ExternalObjectRef] | None = None
    error_message: SafeMessage | None = None
    error_class: ErrorClass | None = None
    error_code: ErrorCode | None = None
    failed_stage: PipelineStage | None = None
    attempt_count: Annotated[int, Field(ge=0)] | None = None
