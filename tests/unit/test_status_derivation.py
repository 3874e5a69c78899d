"""Status derivation (seed §2.2): every combination of intent/attempt/outcome presence and attempt status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution_core.models import ApiStatus, AttemptStatus, OutcomeStatus
from execution_core.repositories.status_read import ExecutionRecords
from execution_core.services.status import (
    InvalidLimitError,
    derive_status,
    parse_limit,
    status_from_attempt,
)
from tests.unit import factories

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
