"""Payloads between the state machine's steps: what each Lambda accepts and returns.

Inputs are validated strictly (unknown fields are errors), so a malformed payload is a classified
VALIDATION error before anything is read or written.
"""

from enum import StrEnum
from typing import Annotated, Any

import pydantic
from pydantic import Field, JsonValue

from execution_core.errors import ErrorClass, ErrorCode, InvalidInputError
from execution_core.models.common import FrozenModel, Identifier, ShortText, UtcDatetime
from execution_core.models.execution import ArtifactRef, ExternalObjectRef, OutcomeStatus
from execution_core.models.intent import ApprovalSource

ToolName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
IdempotencyKeyText = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{8,256}$")]


class OpenModel(pydantic.BaseModel):
    """An envelope owned by another system (EventBridge): extra fields are tolerated, not trusted."""

    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")


class ActionApprovedDetail(OpenModel):
    """The ACTION_APPROVED event's detail (DESIGN §4): which intent, whose."""

    action_intent_id: Identifier
    tenant_id: Identifier
    account_id: Identifier
    approval_source: ApprovalSource | None = None
    auto_executed: bool | None = None


class ActionApprovedEvent(OpenModel):
    id: Annotated[str, Field(max_length=128)] = "unknown"
    detail_type: Annotated[str, Field(alias="detail-type")] = "ACTION_APPROVED"
    detail: ActionApprovedDetail


class StartRequest(FrozenModel):
    event: ActionApprovedEvent
    execution_id: Annotated[str, Field(min_length=1, max_length=2048)]


class StartDisposition(StrEnum):
    STARTED = "STARTED"
    DUPLICATE = "DUPLICATE"


class ToolCall(FrozenModel):
    """The resolved registry mapping: which tool, which version, with which parameters."""

    tool_name: ToolName
    tool_schema_version: ShortText
    registry_version: Annotated[int, Field(ge=1)]
    parameters: dict[str, JsonValue]


class StartedExecution(FrozenModel):
    """Everything later steps need; carried in the state so no step re-reads the intent."""

    disposition: StartDisposition
    action_intent_id: Identifier
    tenant_id: Identifier
    account_id: Identifier
    execution_id: Annotated[str, Field(min_length=1, max_length=2048)]
    lease_id: ShortText | None = None
    attempt_count: Annotated[int, Field(ge=0)] = 0
    action_type: Identifier | None = None
    trace_id: Identifier | None = None
    original_decision_id: Identifier | None = None
    expires_at_epoch: Annotated[int, Field(ge=0)] | None = None
    started_at: UtcDatetime | None = None
    idempotency_key: IdempotencyKeyText | None = None
    tool: ToolCall | None = None

    def correlation_keys(self) -> dict[str, str | None]:
        """The log correlation keys every later step appends (observability.correlate)."""
        return {
            "action_intent_id": self.action_intent_id,
            "tenant_id": self.tenant_id,
            "account_id": self.account_id,
            "execution_id": self.execution_id,
            "trace_id": self.trace_id,
        }


class AdapterRequest(FrozenModel):
    """What the tool invoker sends an adapter."""

    tool_name: ToolName
    tool_schema_version: ShortText
    parameters: dict[str, JsonValue]
    idempotency_key: IdempotencyKeyText
    tenant_id: Identifier
    account_id: Identifier
    action_intent_id: Identifier
    attempt_count: Annotated[int, Field(ge=1)]
    trace_id: Identifier


class AdapterResponse(FrozenModel):
    """What an adapter returns: refs to the created object and the raw downstream response."""

    external_object_refs: list[ExternalObjectRef]
    raw_response: dict[str, JsonValue]
    tool_run_ref: ShortText
    replayed: bool = False


class ToolResult(FrozenModel):
    """What the tool invoker passes on: references only; the raw response stays in S3."""

    external_object_refs: list[ExternalObjectRef]
    raw_response_artifact_ref: ArtifactRef
    tool_run_ref: ShortText
    replayed: bool = False


class RecordRequest(FrozenModel):
    start: StartedExecution
    tool: ToolResult


class RecordDisposition(StrEnum):
    RECORDED = "RECORDED"
    ALREADY_RECORDED = "ALREADY_RECORDED"
    DUPLICATE = "DUPLICATE"


class RecordResult(FrozenModel):
    """The recorders' answer; the state machine branches on disposition and status."""

    disposition: RecordDisposition
    status: OutcomeStatus | None
    action_intent_id: Identifier
    error_class: ErrorClass | None = None
    error_code: ErrorCode | None = None


class CaughtError(FrozenModel):
    """The normalizing step's output: the Lambda errorType and its cause (a JSON string, untrusted)."""

    error: Annotated[str, Field(max_length=256)]
    cause: Annotated[str, Field(max_length=262_144)] | None = None
    execution_id: Annotated[str, Field(min_length=1, max_length=2048)]


class ResultEnvelope(OpenModel):
    result: dict[str, Any]


class FailureRecordRequest(OpenModel):
    """The whole execution state at the failure: which results exist tells the failed stage."""

    detail: ActionApprovedDetail
    failure: CaughtError
    start: ResultEnvelope | None = None
    preflight: ResultEnvelope | None = None
    tool: ResultEnvelope | None = None
    record: ResultEnvelope | None = None


def parse_payload[M: pydantic.BaseModel](model: type[M], payload: Any) -> M:
    """Validate a Lambda payload; a bad one is an InvalidInputError naming fields, never values."""
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as exc:
        problems = sorted({".".join(str(p) for p in err["loc"]) or "payload" for err in exc.errors()})
        raise InvalidInputError(f"invalid {model.__name__}: check {', '.join(problems)[:200]}") from None
