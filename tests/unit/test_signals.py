"""build_execution_outcome_signal: a complete, deterministic signal per outcome
(docs/architecture.md §4.6)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models.execution import ActionOutcome, ExternalObjectRef, ExternalSystem, OutcomeStatus
from execution_core.models.signal import ConfidenceSource, Severity, SignalType
from execution_core.services.signals import (
    DETECTOR_INPUT_VERSION,
    DETECTOR_VERSION,
    build_execution_outcome_signal,
    evidence_hash,
)
from local_runtime.intents import new_intent

COMPLETED = datetime(2026, 11, 25, 10, 30, 0, tzinfo=UTC)


def _outcome(status: OutcomeStatus = OutcomeStatus.SUCCEEDED, **changes: object) -> ActionOutcome:
    failed = status is not OutcomeStatus.SUCCEEDED
    fields: dict[str, object] = {
        "action_intent_id": "ai-1",
        "status": status,
        "external_object_refs": []
        if failed
        else [ExternalObjectRef(system=ExternalSystem.CRM, object_type="Task", object_id="00T1")],
        "error_class": ErrorClass.AUTH if failed else None,
        "error_code": ErrorCode.AUTH_FAILED if failed else None,
        "error_message": "token rejected" if failed else None,
        "attempt_count": 1,
        "tool_name": "crm.create_task",
        "tool_schema_version": "v60.0",
        "registry_version": 3,
        "raw_response_artifact_ref": "s3://bucket/t-1/acct-1/ai-1/attempt-1/response.json",
        "started_at": COMPLETED - timedelta(seconds=5),
        "completed_at": COMPLETED,
        "tenant_id": "t-1",
        "account_id": "acct-1",
        "trace_id": "trace-1",
    }
    fields.update(changes)
    return ActionOutcome.model_validate(fields)


INTENT = new_intent("t-1", "acct-1", "CREATE_CRM_TASK", {"subject": "x"})


def test_success_signal_fields() -> None:
    outcome = _outcome()
    signal = build_execution_outcome_signal(outcome, INTENT, "trace-1", COMPLETED)

    assert signal.signal_type is SignalType.ACTION_EXECUTED
    assert signal.window_key == "acct-1-ai-1"
    expected_evidence = hashlib.sha256(
        json.dumps(
            {
                "action_intent_id": "ai-1",
                "completed_at": "2026-11-25T10:30:00.000000Z",
                "status": "SUCCEEDED",
            },
            separators=(",", ":"),
        ).encode()
    ).hexdigest()
    assert signal.evidence.evidence_hash == expected_evidence == evidence_hash(outcome)
    expected_dedupe = hashlib.sha256(
        "\x1f".join(["acct-1", "ACTION_EXECUTED", "acct-1-ai-1", expected_evidence]).encode()
    ).hexdigest()
    assert signal.dedupe_key == expected_dedupe
    assert signal.signal_id.startswith("sig-")
    assert (signal.tenant_id, signal.account_id, signal.trace_id) == ("t-1", "acct-1", "trace-1")
    assert signal.confidence == 1.0
    assert signal.confidence_source is ConfidenceSource.DIRECT
    assert signal.severity is Severity.LOW
    assert signal.ttl.ttl_days == 90
    assert signal.ttl.is_permanent is False
    assert signal.ttl.expires_at == COMPLETED + timedelta(days=90)
    assert signal.suppression.suppressed is False
    assert (signal.detector_version, signal.detector_input_version) == (
        DETECTOR_VERSION,
        DETECTOR_INPUT_VERSION,
    )
    assert signal.created_at == signal.updated_at == COMPLETED
    assert signal.context["original_decision_id"] == INTENT.original_decision_id
    assert signal.context["registry_version"] == 3
    assert outcome.raw_response_artifact_ref in signal.evidence.evidence_refs


def test_failure_signal_is_action_failed_with_medium_severity() -> None:
    for status in (OutcomeStatus.FAILED, OutcomeStatus.CANCELLED, OutcomeStatus.EXPIRED):
        signal = build_execution_outcome_signal(_outcome(status), INTENT, "trace-1", COMPLETED)
        assert signal.signal_type is SignalType.ACTION_FAILED
        assert signal.severity is Severity.MEDIUM
        assert signal.metadata["status"] == status.value
        assert signal.metadata["error_class"] == "AUTH"


def test_stored_shape_uses_the_perception_layers_camel_case() -> None:
    dumped = build_execution_outcome_signal(_outcome(), INTENT, "trace-1", COMPLETED).model_dump(mode="json")
    for name in ("signalId", "signalType", "dedupeKey", "windowKey", "detectorVersion", "confidenceSource"):
        assert name in dumped
    assert "signal_id" not in dumped
    assert set(dumped["ttl"]) == {"expiresAt", "ttlDays", "isPermanent"}


def test_same_inputs_give_byte_identical_signals() -> None:
    first = build_execution_outcome_signal(_outcome(), INTENT, "trace-1", COMPLETED)
    second = build_execution_outcome_signal(_outcome(), INTENT, "trace-1", COMPLETED)
    assert first.model_dump_json() == second.model_dump_json()


_ids = st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True)


@given(
    first=st.tuples(_ids, _ids, st.sampled_from(list(OutcomeStatus)), st.integers(0, 10**6)),
    second=st.tuples(_ids, _ids, st.sampled_from(list(OutcomeStatus)), st.integers(0, 10**6)),
)
def test_different_outcomes_never_share_a_dedupe_key(
    first: tuple[str, str, OutcomeStatus, int], second: tuple[str, str, OutcomeStatus, int]
) -> None:
    def signal_for(values: tuple[str, str, OutcomeStatus, int]) -> str:
        account, intent_id, status, seconds = values
        outcome = _outcome(
            status,
            account_id=account,
            action_intent_id=intent_id,
            completed_at=COMPLETED + timedelta(seconds=seconds),
        )
        return build_execution_outcome_signal(outcome, INTENT, "trace-1", COMPLETED).dedupe_key

    if first != second:
        assert signal_for(first) != signal_for(second)
    else:
        assert signal_for(first) == signal_for(second)
