"""Forward-compatible step contracts (ADR 0013): every payload between two steps ignores fields it does not
know, gives a missing optional field its default, and still validates every field it knows strictly, so a
forged or altered known field is refused as before (ADR 0002)."""

from __future__ import annotations

import copy
from typing import Any

import pydantic
import pytest

from execution_core.contracts import (
    EffectResult,
    FailureRecordRequest,
    PreparedExecution,
    PrepareRequest,
    RecordRequest,
    RecordResult,
    ResolveRequest,
    StepModel,
    ToolCall,
    parse_payload,
)
from execution_core.errors import IdempotencyKeyMismatchError, InvalidInputError
from execution_core.models import ExternalObjectRef
from execution_core.services.deterministic_ids import idempotency_key

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:bel-execution:run-1"
TOOL: dict[str, Any] = {
    "tool_name": "internal.create_note",
    "tool_schema_version": "1",
    "registry_version": 3,
    "parameters": {"title": "Call back", "body": "about the renewal"},
}
IDENTITY = {"tenant_id": "tenant-1", "account_id": "acct-1", "action_intent_id": "ai-1"}
KEY = idempotency_key(
    **IDENTITY,
    action_type="CREATE_INTERNAL_NOTE",
    tool_name=TOOL["tool_name"],
    registry_version=TOOL["registry_version"],
    parameters=TOOL["parameters"],
)
PREPARED: dict[str, Any] = {
    **IDENTITY,
    "execution_id": EXECUTION,
    "lease_id": "lease-1",
    "attempt_count": 1,
    "action_type": "CREATE_INTERNAL_NOTE",
    "trace_id": "trace-1",
    "original_decision_id": "decision-1",
    "expires_at_epoch": 4_102_444_800,
    "started_at": "2026-01-01T00:00:00Z",
    "idempotency_key": KEY,
    "tool": TOOL,
    "adapter_function": "arn:aws:lambda:us-east-1:123456789012:function:bel-InternalAdapterFunction:live",
}
REF = {"system": "INTERNAL", "object_type": "NOTE", "object_id": "note-1", "object_url": "https://x.test/n/1"}
EFFECT: dict[str, Any] = {
    "external_object_refs": [REF],
    "raw_response_artifact_ref": "s3://bel-artifacts/tenant-1/acct-1/ai-1/1/response.json",
    "tool_run_ref": "note-1",
    "replayed": True,
}
# One valid payload per step model, every optional field present with a value other than its default.
SAMPLES: dict[type[StepModel], dict[str, Any]] = {
    PrepareRequest: {
        "event": {"id": "event-1", "detail-type": "ACTION_APPROVED", "detail": IDENTITY},
        "execution_id": EXECUTION,
    },
    ToolCall: TOOL,
    PreparedExecution: PREPARED,
    ResolveRequest: {
        **IDENTITY,
        "action_type": "CREATE_CRM_TASK",
        "idempotency_key": KEY,
        "tool_name": "crm.create_task",
    },
    EffectResult: EFFECT,
    RecordRequest: {"prepared": PREPARED, "effect": EFFECT},
    RecordResult: {
        "disposition": "RECORDED",
        "status": "FAILED",
        "action_intent_id": "ai-1",
        "error_class": "VALIDATION",
        "error_code": "INTENT_NOT_FOUND",
    },
    FailureRecordRequest: {
        "state": {
            "detail": IDENTITY,
            "prepared": {"result": PREPARED},
            "error": {"Error": "AuthError", "Cause": "{}"},
        },
        "execution_id": EXECUTION,
    },
}
MODELS = sorted(SAMPLES, key=lambda m: m.__name__)
OPTIONAL = [
    (model, name)
    for model in MODELS
    for name, info in sorted(model.model_fields.items())
    if not info.is_required()
]


def _ids(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else str(value)


def test_every_step_model_is_forward_compatible() -> None:
    """Every payload a handler parses between steps is a StepModel (EventBridge envelopes: OpenModel)."""
    for model in MODELS:
        assert issubclass(model, StepModel), model
        assert model.model_config.get("extra") == "ignore", model
        assert model.model_config.get("frozen") is True, model


@pytest.mark.parametrize("model", MODELS, ids=_ids)
def test_an_unknown_field_is_ignored_and_never_passed_on(model: type[StepModel]) -> None:
    """A newer producer's field: the older consumer parses the payload as if it were not there."""
    sample = SAMPLES[model]
    newer = {**copy.deepcopy(sample), "added_in_v2": {"priority": 7}}

    parsed = parse_payload(model, newer)

    assert parsed == parse_payload(model, sample)
    assert "added_in_v2" not in parsed.model_dump(mode="json", by_alias=True)


def test_unknown_fields_are_ignored_in_nested_step_payloads() -> None:
    newer = copy.deepcopy(SAMPLES[RecordRequest])
    newer["prepared"]["tool"]["tool_label"] = "added in v2"
    newer["effect"]["external_object_refs"][0]["object_etag"] = "added in v2"

    parsed = parse_payload(RecordRequest, newer)

    assert parsed == parse_payload(RecordRequest, SAMPLES[RecordRequest])
    assert ExternalObjectRef.model_validate({**REF, "object_etag": "v2"}) == ExternalObjectRef.model_validate(
        REF
    )


@pytest.mark.parametrize(("model", "field"), OPTIONAL, ids=_ids)
def test_a_missing_optional_field_gets_its_default(model: type[StepModel], field: str) -> None:
    """An older producer's payload, without a field added later: the newer consumer uses the default."""
    info = model.model_fields[field]
    key = info.alias or field
    sample = SAMPLES[model]
    assert key in sample, f"the {model.__name__} sample must set {key} to a non-default value"
    older = {k: v for k, v in copy.deepcopy(sample).items() if k != key}

    parsed = parse_payload(model, older)

    assert getattr(parsed, field) == info.get_default(call_default_factory=True)
    assert getattr(parse_payload(model, sample), field) != getattr(parsed, field)


class PreparedExecutionV2(PreparedExecution):
    """The next contract: PrepareExecution also says how urgent the action is (a new optional field)."""

    priority: int = 5


class EffectResultV2(EffectResult):
    """The next contract: the adapter also says how long the downstream call took."""

    downstream_ms: int | None = None


@pytest.mark.parametrize(
    ("new_model", "old_payload", "field", "default"),
    [
        (PreparedExecutionV2, PREPARED, "priority", 5),
        (EffectResultV2, EFFECT, "downstream_ms", None),
    ],
    ids=["prepared", "effect"],
)
def test_the_next_contract_reads_the_old_payload_and_the_old_contract_reads_the_new(
    new_model: type[StepModel], old_payload: dict[str, Any], field: str, default: Any
) -> None:
    old_model = new_model.__mro__[1]
    from_old = parse_payload(new_model, old_payload)
    assert getattr(from_old, field) == default
    new_payload = {**old_payload, field: 9}
    assert parse_payload(old_model, new_payload) == parse_payload(old_model, old_payload)
    assert getattr(parse_payload(new_model, new_payload), field) == 9


@pytest.mark.parametrize(
    ("model", "field"),
    [(m, f) for m in MODELS for f in sorted(m.model_fields)],
    ids=_ids,
)
def test_a_malformed_known_field_is_still_refused(model: type[StepModel], field: str) -> None:
    """Ignoring unknown fields loosens nothing about known ones: a wrong value is a VALIDATION error."""
    key = model.model_fields[field].alias or field
    malformed = {**copy.deepcopy(SAMPLES[model]), key: [12.5]}  # no field of any step takes this

    with pytest.raises(InvalidInputError, match=f"invalid {model.__name__}"):
        parse_payload(model, malformed)


@pytest.mark.parametrize("model", MODELS, ids=_ids)
def test_a_missing_required_field_is_still_refused(model: type[StepModel]) -> None:
    for name, info in model.model_fields.items():
        if info.is_required():
            key = info.alias or name
            with pytest.raises(InvalidInputError):
                parse_payload(model, {k: v for k, v in SAMPLES[model].items() if k != key})


def test_an_unknown_field_cannot_change_what_the_idempotency_key_covers() -> None:
    """A forger cannot smuggle parameters in a field the adapter ignores: the key covers the known ones."""
    smuggled = {**PREPARED, "parameters": {"title": "Wire the money"}, "tool_override": {"title": "x"}}
    prepared = parse_payload(PreparedExecution, smuggled)
    prepared.require_consistent_key()  # the payload's own key still covers exactly what it executes
    assert prepared.tool.parameters == TOOL["parameters"]

    altered = {**PREPARED, "tool": {**TOOL, "parameters": {"title": "Wire the money"}}, "note": "v2"}
    with pytest.raises(IdempotencyKeyMismatchError):
        parse_payload(PreparedExecution, altered).require_consistent_key()


def test_a_step_payload_stays_immutable() -> None:
    prepared = parse_payload(PreparedExecution, PREPARED)
    with pytest.raises(pydantic.ValidationError):
        prepared.lease_id = "another-lease"  # type: ignore[misc]
