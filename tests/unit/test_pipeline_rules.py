"""The pure rules of pipeline v2: what a failure means once the effect store has answered, which stage
failed, what the idempotency key covers, how platform error names classify."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution_core.contracts import CaughtError, FailureState, ResultEnvelope
from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models.execution import ExternalObjectRef, OutcomeStatus
from execution_core.models.ledger import LedgerEventType
from execution_core.services.deterministic_ids import idempotency_key
from execution_core.services.effects import Effect, EffectState
from execution_core.services.failures import Failure, classify_error_type
from execution_core.services.recording import decide, failed_stage

PRESENT = Effect(
    EffectState.PRESENT,
    [ExternalObjectRef(system="CRM", object_type="Task", object_id="00T1")],
    "s3://bucket-name/a/b/attempt-1/response.json",
    "00T1",
)


@pytest.mark.parametrize(
    "error", ["AuthError", "Runtime.ExitError", "States.Timeout", "KillSwitchEnabledError", "DataStoreError"]
)
def test_an_effect_that_exists_is_a_success_whatever_failed(error: str) -> None:
    decision = decide(Failure(error, "boom", "RecordOutcome"), PRESENT)
    assert (decision.status, decision.ledger_event, decision.error) == (
        OutcomeStatus.SUCCEEDED,
        LedgerEventType.ACTION_EXECUTED,
        None,
    )


@pytest.mark.parametrize(
    ("error", "status", "event"),
    [
        ("KillSwitchEnabledError", OutcomeStatus.CANCELLED, LedgerEventType.EXECUTION_CANCELLED),
        ("IntentExpiredError", OutcomeStatus.EXPIRED, LedgerEventType.EXECUTION_EXPIRED),
        ("AuthError", OutcomeStatus.FAILED, LedgerEventType.ACTION_FAILED),
        ("Sandbox.Timedout", OutcomeStatus.FAILED, LedgerEventType.ACTION_FAILED),
        ("SomethingNobodyKnows", OutcomeStatus.FAILED, LedgerEventType.ACTION_FAILED),
    ],
)
def test_without_an_effect_the_error_decides(
    error: str, status: OutcomeStatus, event: LedgerEventType
) -> None:
    decision = decide(Failure(error, "boom", "PerformAction"), Effect(EffectState.ABSENT))
    assert (decision.status, decision.ledger_event) == (status, event)
    assert decision.error == classify_error_type(error)


def test_a_write_nobody_confirmed_is_left_in_doubt() -> None:
    decision = decide(Failure("ToolTimeoutError", "slow", "PerformAction"), Effect(EffectState.IN_DOUBT))
    assert decision.status is None


def _state(**results: Any) -> FailureState:
    envelopes = {name: ResultEnvelope(result={}) for name, present in results.items() if present}
    return FailureState(error=CaughtError.model_validate({"Error": "X"}), **envelopes)


@pytest.mark.parametrize(
    ("prepared", "effect", "stage"),
    [(False, False, "PrepareExecution"), (True, False, "PerformAction"), (True, True, "RecordOutcome")],
)
def test_the_first_missing_result_names_the_failed_stage(prepared: bool, effect: bool, stage: str) -> None:
    assert failed_stage(_state(prepared=prepared, effect=effect)) == stage


def test_a_caught_failure_keeps_the_message_and_never_the_stack_trace() -> None:
    cause = json.dumps(
        {"errorType": "AuthError", "errorMessage": "refused Bearer abc.def", "stackTrace": ["/var/task/x.py"]}
    )
    failure = Failure.caught("AuthError", cause, "PerformAction")
    assert "refused" in failure.message
    assert "abc.def" not in failure.message
    assert "/var/task" not in failure.message
    assert (
        Failure.caught("Runtime.ExitError", None, "PerformAction").message == "UNKNOWN_ERROR during execution"
    )


@pytest.mark.parametrize(
    ("name", "error_class", "retryable"),
    [
        ("Sandbox.Timedout", ErrorClass.TIMEOUT, True),
        ("States.Timeout", ErrorClass.TIMEOUT, True),
        ("Runtime.ExitError", ErrorClass.UNKNOWN, True),
        ("Lambda.Unknown", ErrorClass.UNKNOWN, True),
        ("Lambda.TooManyRequestsException", ErrorClass.DOWNSTREAM, True),
        ("Lambda.ResourceNotFoundException", ErrorClass.UNKNOWN, False),
        ("Runtime.ImportModuleError", ErrorClass.UNKNOWN, False),
        ("RateLimitError", ErrorClass.RATE_LIMIT, True),
        ("LeaseNotHeldError", ErrorClass.UNKNOWN, False),
    ],
)
def test_platform_and_project_error_names_classify_by_name(
    name: str, error_class: ErrorClass, retryable: bool
) -> None:
    classification = classify_error_type(name)
    assert (classification.error_class, classification.retryable) == (error_class, retryable)
    assert classification.error_code is not ErrorCode.DUPLICATE_START


KEY: dict[str, Any] = {
    "tenant_id": "t-1",
    "account_id": "a-1",
    "action_intent_id": "ai-1",
    "action_type": "CREATE_CRM_TASK",
    "tool_name": "crm.create_task",
    "registry_version": 1,
    "parameters": {"Subject": "Call", "Priority": "High"},
}
_scalars = st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none())


@given(st.dictionaries(st.text(min_size=1, max_size=10), _scalars, max_size=6))
def test_the_key_does_not_depend_on_parameter_order(parameters: dict[str, Any]) -> None:
    reordered = dict(reversed(list(parameters.items())))
    assert idempotency_key(**{**KEY, "parameters": parameters}) == idempotency_key(
        **{**KEY, "parameters": reordered}
    )


@given(
    field=st.sampled_from(["tenant_id", "account_id", "action_intent_id", "action_type", "tool_name"]),
    suffix=st.text(min_size=1, max_size=5),
)
def test_the_key_changes_with_every_identity_field(field: str, suffix: str) -> None:
    assert idempotency_key(**{**KEY, field: str(KEY[field]) + suffix}) != idempotency_key(**KEY)


@given(value=_scalars)
def test_the_key_covers_the_mapped_parameters(value: Any) -> None:
    changed = {**KEY["parameters"], "Subject": value}
    if value == "Call":
        return
    assert idempotency_key(**{**KEY, "parameters": changed}) != idempotency_key(**KEY)
    assert idempotency_key(**{**KEY, "registry_version": 2}) != idempotency_key(**KEY)


def test_every_stage_a_recorder_names_is_a_row_label() -> None:
    """The status API labels rows with the stage (ADR 0010): every name the recorders and the reconciler
    record with must be one the PipelineStage enum (and the OpenAPI document) knows."""
    from execution_core.models import PipelineStage
    from execution_core.services import reconciler, recording

    assert {*recording.STAGES, reconciler.STAGE} == {stage.value for stage in PipelineStage}
