"""Status derivation (docs/architecture.md §4.8): every combination of intent/attempt/outcome presence and
attempt status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models import (
    ActionOutcome,
    ApiStatus,
    AttemptStatus,
    ExecutionAttempt,
    LedgerEntry,
    LedgerEventType,
    OutcomeStatus,
    PipelineStage,
)
from execution_core.repositories.status_read import ExecutionRecords
from execution_core.services.status import (
    InvalidLimitError,
    InvalidStatusFilterError,
    derive_status,
    ledger_view,
    list_scope,
    parse_limit,
    parse_status_filter,
    status_from_attempt,
)
from tests.support import factories

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
INTENT_ID = "ai-prop-1"


def _records(
    has_intent: bool,
    expires_in_s: int,
    attempt_status: AttemptStatus | None,
    outcome_status: OutcomeStatus | None,
) -> ExecutionRecords:
    intent = (
        factories.intent(
            action_intent_id=INTENT_ID,
            expires_at=NOW.replace(microsecond=0) + timedelta(seconds=expires_in_s),
        )
        if has_intent
        else None
    )
    attempt = factories.attempt(action_intent_id=INTENT_ID, status=attempt_status) if attempt_status else None
    outcome = None
    if outcome_status is not None:
        errors = (
            {}
            if outcome_status is OutcomeStatus.SUCCEEDED
            else {"error_code": "DOWNSTREAM_ERROR", "error_class": "DOWNSTREAM"}
        )
        outcome = factories.outcome(action_intent_id=INTENT_ID, status=outcome_status, **errors)
    return ExecutionRecords(intent=intent, attempt=attempt, outcome=outcome)


@given(
    has_intent=st.booleans(),
    expires_in_s=st.integers(min_value=-86_400, max_value=86_400),
    attempt_status=st.none() | st.sampled_from(AttemptStatus),
    outcome_status=st.none() | st.sampled_from(OutcomeStatus),
)
def test_derivation_rules(
    has_intent: bool,
    expires_in_s: int,
    attempt_status: AttemptStatus | None,
    outcome_status: OutcomeStatus | None,
) -> None:
    records = _records(has_intent, expires_in_s, attempt_status, outcome_status)
    status = derive_status(records, NOW)

    if not (has_intent or attempt_status or outcome_status):
        assert status is None  # 404, never PENDING/EXPIRED for an unknown id
        return
    assert status is not None
    assert status.action_intent_id == INTENT_ID
    if outcome_status is not None:  # outcome wins over attempt and intent
        assert records.outcome is not None
        assert status.status.value == outcome_status.value
        assert status.completed_at == records.outcome.completed_at
        assert status.attempt_count == records.outcome.attempt_count
        assert (status.error_class is None) == (outcome_status is OutcomeStatus.SUCCEEDED)
    elif attempt_status is not None:
        # A terminal attempt is finalized in its outcome's transaction: it shows its own status (it used
        # to show PENDING, so the list, which reads only attempts, disagreed with the detail: ADR 0010).
        assert records.attempt is not None
        assert status.status.value == attempt_status.value
        assert status.completed_at == records.attempt.completed_at
        if attempt_status is AttemptStatus.RUNNING:
            assert status.completed_at is None
            assert status.error_message is None
    else:
        expired = expires_in_s <= 0
        assert status.status is (ApiStatus.EXPIRED if expired else ApiStatus.PENDING)
        assert status.started_at is None


def test_expiry_boundary_is_inclusive() -> None:
    at_expiry = _records(True, 0, None, None)
    one_second_left = _records(True, 1, None, None)
    assert derive_status(at_expiry, NOW) is not None
    assert derive_status(at_expiry, NOW).status is ApiStatus.EXPIRED  # type: ignore[union-attr]
    assert derive_status(one_second_left, NOW).status is ApiStatus.PENDING  # type: ignore[union-attr]


@given(attempt_status=st.sampled_from(AttemptStatus))
def test_list_entries_take_the_attempts_summary(attempt_status: AttemptStatus) -> None:
    attempt = factories.attempt(status=attempt_status)
    entry = status_from_attempt(attempt)
    assert entry.status.value == attempt_status.value
    assert entry.started_at == attempt.started_at
    if attempt_status is AttemptStatus.RUNNING:
        assert entry.completed_at is None
        assert entry.external_object_refs is None


@given(st.integers(min_value=1, max_value=100))
def test_limits_in_range_parse(limit: int) -> None:
    assert parse_limit(str(limit)) == limit


@given(st.text(max_size=8))
def test_anything_else_is_refused_with_what_was_provided(raw: str) -> None:
    if raw == "" or (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 100):
        return
    with pytest.raises(InvalidLimitError) as caught:
        parse_limit(raw)
    assert caught.value.provided == raw


def test_absent_limit_is_the_default() -> None:
    assert parse_limit(None) == parse_limit("") == 50


# ---------------------------------------------------------------------------------------- ADR 0010
def _finalized(attempt_status: AttemptStatus, with_labels: bool) -> tuple[ExecutionAttempt, ActionOutcome]:
    """An attempt and its outcome as the recorders commit them: one status, one summary."""
    failed = attempt_status is not AttemptStatus.SUCCEEDED
    errors: dict[str, Any] = (
        {
            "error_code": ErrorCode.DOWNSTREAM_ERROR,
            "error_class": ErrorClass.DOWNSTREAM,
            "error_message": "503",
        }
        if failed
        else {}
    )
    refs = [] if failed else [factories.ref()]
    done = NOW + timedelta(seconds=3)
    labels: dict[str, Any] = (
        {"action_type": "CREATE_INTERNAL_TASK", "approved_at": NOW, "expires_at_epoch": 1_900_000_000}
        if with_labels
        else {}
    )
    attempt = factories.attempt(
        action_intent_id=INTENT_ID,
        status=attempt_status,
        completed_at=done,
        external_object_refs=refs,
        failed_stage=PipelineStage.PERFORM if failed else None,
        **labels,
        **errors,
    )
    outcome = factories.outcome(
        action_intent_id=INTENT_ID,
        status=OutcomeStatus(attempt_status.value),
        external_object_refs=refs,
        started_at=attempt.started_at,
        completed_at=done,
        attempt_count=attempt.attempt_count,
        **errors,
    )
    return attempt, outcome


@given(
    intent_state=st.sampled_from(["none", "live", "expired"]),
    attempt_status=st.sampled_from(AttemptStatus),
    outcome_visible=st.booleans(),
    with_labels=st.booleans(),
)
def test_a_list_row_is_the_detail_row(
    intent_state: str, attempt_status: AttemptStatus, outcome_visible: bool, with_labels: bool
) -> None:
    intent = (
        factories.intent(
            action_intent_id=INTENT_ID,
            expires_at=NOW.replace(microsecond=0) + timedelta(hours=-1 if intent_state == "expired" else 1),
        )
        if intent_state != "none"
        else None
    )
    if attempt_status is AttemptStatus.RUNNING:
        attempt, outcome = factories.attempt(action_intent_id=INTENT_ID, status=attempt_status), None
    else:
        attempt, finalized = _finalized(attempt_status, with_labels)
        outcome = finalized if outcome_visible else None
    detail = derive_status(ExecutionRecords(intent=intent, attempt=attempt, outcome=outcome), NOW)
    assert detail is not None
    assert status_from_attempt(attempt) == detail
    assert detail.status.value == attempt_status.value
    assert detail.account_id == attempt.account_id
    assert (detail.approved_at is not None) == (with_labels and attempt.is_terminal)


def test_an_intent_alone_is_labelled_from_the_intent() -> None:
    intent = factories.intent(
        action_intent_id=INTENT_ID, expires_at=NOW.replace(microsecond=0) + timedelta(hours=1)
    )
    row = derive_status(ExecutionRecords(intent=intent, attempt=None, outcome=None), NOW)
    assert row is not None
    assert (row.status, row.action_type, row.account_id) == (
        ApiStatus.PENDING,
        intent.action_type,
        intent.account_id,
    )
    assert (row.approved_at, row.expires_at) == (intent.approval_timestamp, intent.expires_at)
    assert row.failed_stage is None


def test_a_running_attempt_in_doubt_keeps_its_provisional_error_internal() -> None:
    attempt = factories.attempt(in_doubt=True, last_error="States.Timeout", error_message="no answer")
    row = status_from_attempt(attempt)
    assert (row.status, row.error_message, row.error_code, row.failed_stage) == (
        ApiStatus.RUNNING,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("raw", [None, ""])
def test_no_status_filter(raw: str | None) -> None:
    assert parse_status_filter(raw) is None


@given(st.sampled_from(ApiStatus))
def test_every_api_status_is_a_filter(status: ApiStatus) -> None:
    assert parse_status_filter(status.value) is status


@given(st.text(max_size=80))
def test_anything_else_is_refused_as_a_status(raw: str) -> None:
    if raw == "" or raw in ApiStatus.__members__:
        return
    with pytest.raises(InvalidStatusFilterError) as caught:
        parse_status_filter(raw)
    assert caught.value.provided == raw[:64]


def test_the_token_scope_names_the_filter_only_when_filtered() -> None:
    plain = list_scope("t-1", "acc-1", 10, None)
    assert "status" not in plain
    assert list_scope("t-1", "acc-1", 10, ApiStatus.FAILED) == {**plain, "status": "FAILED"}


def test_a_ledger_entry_shows_only_classified_details() -> None:
    entry = LedgerEntry(
        tenant_id="t-1",
        account_id="acc-1",
        action_intent_id=INTENT_ID,
        event_type=LedgerEventType.ACTION_FAILED,
        occurred_at=NOW,
        trace_id="trace-secret",
        attempt_count=2,
        details={
            "status": "FAILED",
            "error_code": "NOT_A_CODE",  # not one of ours: left out, never a 500
            "error_class": "AUTH",
            "failed_stage": "PerformAction",
            "message": "token=abc",
            "tool_run_ref": "run-1",
        },
    )
    assert ledger_view(entry) == {
        "at": "2026-06-01T12:00:00.000000Z",
        "kind": "ACTION_FAILED",
        "attempt_count": 2,
        "status": "FAILED",
        "error_class": "AUTH",
        "failed_stage": "PerformAction",
    }
