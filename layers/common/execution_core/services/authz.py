"""Who is calling the status API, from the claims the Cognito authorizer verified, and what they may read.

Identity comes only from ``requestContext.authorizer.claims`` (API Gateway puts them there after checking
the ID token's signature, issuer, audience and expiry). Headers and query parameters are never consulted:
``x-tenant-id`` or an ``account_id`` in the URL name what is asked for, never who is asking.

Grants fail closed: a missing or malformed tenant claim, or a malformed account list, is a 403 for every
request, never "no restriction".
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeIs

from execution_core.errors import ErrorClass, ErrorCode, ExecutionError

TENANT_CLAIM = "custom:tenant_id"
ACCOUNTS_CLAIM = "custom:account_ids"
MAX_GRANTED_ACCOUNTS = 200

# Same shape as models.common.Identifier: safe inside a key, so a claim cannot address another partition.
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def is_identifier(value: object) -> TypeIs[str]:
    return isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None


class UnauthenticatedError(ExecutionError):
    """No verified identity reached the function (no authorizer claims): 401."""

    error_class = ErrorClass.AUTH
    error_code = ErrorCode.AUTH_FAILED
    default_message = "No verified identity"


class ForbiddenError(ExecutionError):
    """The identity is verified but may not read what it asked for, or its grants are unusable: 403."""

    error_class = ErrorClass.AUTH
    error_code = ErrorCode.AUTH_FAILED
    default_message = "Access denied"


@dataclass(frozen=True)
class Caller:
    """A verified caller: its tenant and, when the token lists them, the accounts it may read.

    ``account_ids`` is None when the token carries no account list; access is then decided by the
    tenant's membership records (``TenantRepository``), never assumed.
    """

    tenant_id: str
    account_ids: frozenset[str] | None

    def grant_for(self, account_id: str) -> bool | None:
        """True/False when the token decides; None when a membership lookup must decide."""
        if self.account_ids is None:
            return None
        return account_id in self.account_ids


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    """Build the caller from verified claims; 401 without claims, 403 for unusable ones."""
    if not claims:
        raise UnauthenticatedError()
    tenant_id = claims.get(TENANT_CLAIM)
    if not is_identifier(tenant_id):
        raise ForbiddenError("the token carries no valid tenant")
    if ACCOUNTS_CLAIM not in claims:
        return Caller(tenant_id, None)
    return Caller(tenant_id, _parse_account_ids(claims[ACCOUNTS_CLAIM]))


def _parse_account_ids(raw: object) -> frozenset[str]:
    """``custom:account_ids`` is a JSON array of account ids, as a string (Cognito claims are strings)."""
    if not isinstance(raw, str):
        raise ForbiddenError("the token's account grants are malformed")
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ForbiddenError("the token's account grants are malformed") from None
    if (
        not isinstance(parsed, list)
        or len(parsed) > MAX_GRANTED_ACCOUNTS
        or not all(is_identifier(item) for item in parsed)
    ):
        raise ForbiddenError("the token's account grants are malformed")
    return frozenset(parsed)
