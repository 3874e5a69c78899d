"""Pagination tokens: round trip, and every kind of abuse is an InvalidPaginationTokenError (a 400)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution_core.errors import ConfigurationError
from execution_core.services.pagination import InvalidPaginationTokenError, PaginationTokens, secret_key

KEY = b"k" * 48
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SCOPE = {"route": "list", "tenant_id": "t-1", "account_id": "acct-1", "limit": "7"}
POSITION = {
    "pk": "TENANT#t-1#ACCOUNT#acct-1",
    "sk": "EXECUTION#ai-9",
    "started_sk": "2026-01-01T00:00:00.000000Z#ai-9",
}


def tokens(key: bytes = KEY, ttl: timedelta = timedelta(minutes=15)) -> PaginationTokens:
    return PaginationTokens(lambda: key, ttl)


def test_round_trip() -> None:
    token = tokens().issue(POSITION, SCOPE, NOW)
    assert tokens().read(token, SCOPE, NOW + timedelta(minutes=14)) == POSITION


@pytest.mark.parametrize("field", sorted(SCOPE))
def test_a_token_is_bound_to_every_part_of_its_scope(field: str) -> None:
    token = tokens().issue(POSITION, SCOPE, NOW)
    with pytest.raises(InvalidPaginationTokenError):
        tokens().read(token, {**SCOPE, field: SCOPE[field] + "x"}, NOW)


def test_expired_tokens_are_refused() -> None:
    token = tokens().issue(POSITION, SCOPE, NOW)
    with pytest.raises(InvalidPaginationTokenError):
        tokens().read(token, SCOPE, NOW + timedelta(minutes=15))


def test_another_key_does_not_verify() -> None:
    token = tokens().issue(POSITION, SCOPE, NOW)
    with pytest.raises(InvalidPaginationTokenError):
        tokens(b"z" * 48).read(token, SCOPE, NOW)


@given(st.data())
def test_any_single_character_change_is_refused(data: st.DataObject) -> None:
    token = tokens().issue(POSITION, SCOPE, NOW)
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCabc012-_.=").filter(lambda c: c != token[index]))
    tampered = token[:index] + replacement + token[index + 1 :]
    try:
        position = tokens().read(tampered, SCOPE, NOW)
    except InvalidPaginationTokenError:
        return
    # base64 padding bits can absorb a change without changing the decoded bytes: then nothing changed.
    assert position == POSITION


@given(st.text(max_size=300))
def test_garbage_is_refused_not_crashed_on(garbage: str) -> None:
    with pytest.raises(InvalidPaginationTokenError):
        tokens().read(garbage, SCOPE, NOW)


def test_short_keys_and_non_string_secrets_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        tokens(b"short").issue(POSITION, SCOPE, NOW)
    with pytest.raises(ConfigurationError):
        secret_key(lambda: {"not": "a string"})()
    assert secret_key(lambda: "s" * 40)() == b"s" * 40
