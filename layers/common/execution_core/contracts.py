"""Payloads between the state machine's steps: what each Lambda accepts and returns.

Prepare → Act → Record (three billed transitions); any caught failure → RecordFailure. Every field a step
knows is validated strictly, so a malformed payload is a classified VALIDATION error before anything is read
or written. Fields a step does not know are ignored (ADR 0013): an execution in flight crosses deploys, so a
step may receive the output of a newer (or, after a rollback, an older) version of the step before it. No
step trusts a payload for authority: the adapters and recorders check every claim (lease, idempotency key,
effect) against the stored records, and nothing in an ignored field is read, stored or passed on.
"""

from enum import StrEnum
from typing import Annotated, Any

import pydantic
from pydantic import Field, JsonValue

from execution_core.errors import ErrorClass, ErrorCode, IdempotencyKeyMismatchError, InvalidInputError
from execution_core.models.common import Identifier, ShortText, UtcDatetime
from execution_core.models.execution import ArtifactRef, ExternalObjectRef, OutcomeStatus
from execution_core.models.intent import ApprovalSource
from execution_core.services.deterministic_ids import idempotency_key

ToolName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
IdempotencyKeyText = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{8,256}$")]
ExecutionArn = Annotated[str, Field(min_length=1, max_length=2048)]
FunctionArn = Annotated[str, Field(pattern=r"^[A-Za-z0-9:_./-]{1,256}$")]


# The alias every invoker of a function invokes: the template's Globals AutoPublishAlias (ADR 0013;
# tests/infrastructure/test_versions_template.py keeps the two equal).
LIVE_ALIAS = "live"


def live_alias_arn(function: str) -> str:
    """The live alias of a function named by name or ARN, qualified or not (``...:function:name:live``).

    Attempts recorded before the aliases existed name the unqualified function, which no role may invoke.
    """
    parts = function.split(":")
    if function.startswith("arn:") and len(parts) >= 7 and parts[5] == "function":
        return ":".join([*parts[:7], LIVE_ALIAS])
    return f"{parts[0]}:{LIVE_ALIAS}"


class OpenModel(pydantic.BaseModel):
    """An envelope owned by another system (EventBridge): extra fields are tolerated, not trusted.

    ``defer_build`` (as FrozenModel): the validator is built on first use or by SnapStart's priming hook,
    not at import.
    """

    model_config = pydantic.ConfigDict(frozen=True, extra="ignore", defer_build=True)


class StepModel(pydantic.BaseModel):
    """A payload between two steps (ADR 0013): unknown fields are ignored, known ones strictly validated.

    Forward compatible: a newer producer may add a field (optional, with a default that keeps today's
    behaviour, for the consumers that predate it); a field this code does not know is dropped at parsing,
    so it can change nothing. A field this code knows still fails validation when it is malformed.
    """

    model_config = pydantic.ConfigDict(frozen=True, extra="ignore", defer_build=True)


class ActionApprovedDetail(OpenModel):
    """The ACTION_APPROVED event's detail (docs/architecture.md §4.7): which intent, whose."""

    action_intent_id: Identifier
    tenant_id: Identifier
    account_id: Identifier
    approval_source: ApprovalSource | None = None
    auto_executed: bool | None = None


class ActionApprovedEvent(OpenModel):
    id: Annotated[str, Field(max_length=128)] = "unknown"
    detail_type: Annotated[str, Field(alias="detail-type")] = "ACTION_APPROVED"
    detail: ActionApprovedDetail


class PrepareRequest(StepModel):
    event: ActionApprovedEvent
    execution_id: ExecutionArn


class ToolCall(StepModel):
    """The resolved registry mapping: which tool, which version, with which parameters."""

    tool_name: ToolName
    tool_schema_version: ShortText
    registry_version: Annotated[int, Field(ge=1)]
    parameters: dict[str, JsonValue]

    @property
    def namespace(self) -> str:
        return tool_namespace(self.tool_name)


def tool_namespace(tool_name: str) -> str:
    """The adapter family a tool belongs to: ``internal`` for ``internal.create_note``."""
    return tool_name.split(".", 1)[0]


class PreparedExecution(StepModel):
    """PrepareExecution's result: everything the adapter and the recorder need, carried in the state."""

    action_intent_id: Identifier
    tenant_id: Identifier
    account_id: Identifier
    execution_id: ExecutionArn
    lease_id: ShortText
    attempt_count: Annotated[int, Field(ge=1)]
    action_type: Identifier
    trace_id: Identifier
    original_decision_id: Identifier | None = None
    expires_at_epoch: Annotated[int, Field(ge=0)]
    started_at: UtcDatetime
    idempotency_key: IdempotencyKeyText
    tool: ToolCall
    adapter_function: FunctionArn

    def expected_idempotency_key(self) -> str:
        return idempotency_key(
            tenant_id=self.tenant_id,
            account_id=self.account_id,
            action_intent_id=self.action_intent_id,
            action_type=self.action_type,
            tool_name=self.tool.tool_name,
            registry_version=self.tool.registry_version,
            parameters=self.tool.parameters,
        )

    def require_consistent_key(self) -> None:
        """Refuse a payload whose key does not cover its own content (altered parameters, action type)."""
        if self.idempotency_key != self.expected_idempotency_key():
            raise IdempotencyKeyMismatchError()

    def correlation_keys(self) -> dict[str, str | None]:
        """The log correlation keys every later step appends (observability.correlate)."""
        return {
            "action_intent_id": self.action_intent_id,
            "tenant_id": self.tenant_id,
            "account_id": self.account_id,
            "execution_id": self.execution_id,
            "trace_id": self.trace_id,
        }


class ResolveRequest(StepModel):
    """The reconciler asks a connector adapter to settle an in-doubt write: a lookup, never a write."""

    tenant_id: Identifier
    account_id: Identifier
    action_intent_id: Identifier
    action_type: Identifier  # the lookup honours this action type's kill switch too (fail closed)
    idempotency_key: IdempotencyKeyText
    tool_name: ToolName


class EffectResult(StepModel):
    """What an adapter returns: references only; the raw downstream response is in S3."""

    external_object_refs: Annotated[list[ExternalObjectRef], Field(min_length=1, max_length=10)]
    raw_response_artifact_ref: ArtifactRef
    tool_run_ref: ShortText
    replayed: bool = False


class RecordRequest(StepModel):
    prepared: PreparedExecution
    effect: EffectResult


class RecordDisposition(StrEnum):
    RECORDED = "RECORDED"
    ALREADY_RECORDED = "ALREADY_RECORDED"
    DUPLICATE = "DUPLICATE"  # another execution owns (or finished) the intent: nothing written
    NOT_EXECUTED = "NOT_EXECUTED"  # the approval ran nothing (no stored intent): audit entry only
    IN_DOUBT = "IN_DOUBT"  # the effect may or may not exist: left to the reconciler, nothing terminal


class RecordResult(StepModel):
    """The recorders' answer; the state machine branches on disposition and status."""

    disposition: RecordDisposition
    status: OutcomeStatus | None
    action_intent_id: Identifier
    error_class: ErrorClass | None = None
    error_code: ErrorCode | None = None


class CaughtError(OpenModel):
    """A Catch's ResultPath: the error name (Lambda errorType) and its cause (a JSON string, untrusted)."""

    error: Annotated[str, Field(alias="Error", max_length=256)]
    cause: Annotated[str | None, Field(alias="Cause", max_length=262_144)] = None


class ResultEnvelope(OpenModel):
    result: dict[str, Any]


class FailureState(OpenModel):
    """The whole execution state at the failure: which results exist tells the failed stage.

    ``detail`` stays raw here: a malformed approval must still be accounted for, not crash the recorder.
    """

    detail: dict[str, Any] | None = None
    prepared: ResultEnvelope | None = None
    effect: ResultEnvelope | None = None
    error: CaughtError


class FailureRecordRequest(StepModel):
    state: FailureState
    execution_id: ExecutionArn


def parse_payload[M: pydantic.BaseModel](model: type[M], payload: Any) -> M:
    """Validate a Lambda payload; a bad one is an InvalidInputError naming fields, never values."""
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as exc:
        problems = sorted({".".join(str(p) for p in err["loc"]) or "payload" for err in exc.errors()})
        raise InvalidInputError(f"invalid {model.__name__}: check {', '.join(problems)[:200]}") from None
