"""Claims → caller: identity only from verified claims; anything unusable fails closed."""

from __future__ import annotations

import pytest

from execution_core.services.authz import Caller, ForbiddenError, UnauthenticatedError, caller_from_claims


@pytest.mark.parametrize("claims", [None, {}])
def test_no_claims_is_unauthenticated(claims: dict[str, str] | None) -> None:
    with pytest.raises(UnauthenticatedError):
        caller_from_claims(claims)


def test_account_list_from_claims() -> None:
    caller = caller_from_claims({"custom:tenant_id": "t-1", "custom:account_ids": '["a-1", "a-2"]'})
    assert caller == Caller("t-1", frozenset({"a-1", "a-2"}))
    assert caller.grant_for("a-1") is True
    assert caller.grant_for("a-3") is False


def test_without_an_account_claim_membership_must_decide() -> None:
    caller = caller_from_claims({"custom:tenant_id": "t-1", "sub": "x"})
    assert caller.grant_for("a-1") is None


def test_an_empty_list_grants_nothing() -> None:
    assert caller_from_claims({"custom:tenant_id": "t-1", "custom:account_ids": "[]"}).grant_for("a") is False


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "x"},
        {"custom:tenant_id": ""},
        {"custom:tenant_id": "t#1"},
        {"custom:tenant_id": "t 1"},
        {"custom:tenant_id": "t" * 129},
        {"custom:tenant_id": "t-1", "custom:account_ids": ""},
        {"custom:tenant_id": "t-1", "custom:account_ids": "a-1,a-2"},
        {"custom:tenant_id": "t-1", "custom:account_ids": '"a-1"'},
        {"custom:tenant_id": "t-1", "custom:account_ids": '["a-1", null]'},
        {"custom:tenant_id": "t-1", "custom:account_ids": '["a/1"]'},
        {"custom:tenant_id": "t-1", "custom:account_ids": ["a-1"]},
    ],
)
def test_malformed_claims_are_forbidden(claims: dict[str, object]) -> None:
    with pytest.raises(ForbiddenError):
        caller_from_claims(claims)
