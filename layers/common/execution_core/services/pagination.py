"""Opaque, signed pagination tokens for the status API's list endpoint.

A token carries the DynamoDB position (LastEvaluatedKey) and an expiry, and is signed with HMAC-SHA256
over that payload *and* the query it belongs to (tenant, account, page size, route). So a token:

- cannot be altered (any change breaks the signature),
- cannot be replayed against another account, another tenant or another page size (the scope is part
  of the signed message but not of the token, so a foreign scope simply fails to verify),
- stops working after ``ttl`` (the expiry is signed too).

Every failure is an ``InvalidPaginationTokenError`` (a 400), whatever was wrong: the response never says
which check failed. The key comes from Secrets Manager through a cached provider (see ``secret_key``).
"""

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from execution_core.errors import ConfigurationError, InvalidInputError

TOKEN_VERSION = "v1"  # noqa: S105 - the token format version, not a secret
MAX_TOKEN_LENGTH = 2048
MIN_KEY_BYTES = 32
DEFAULT_TTL = timedelta(minutes=15)


class InvalidPaginationTokenError(InvalidInputError):
    default_message = "The next_token is invalid or has expired"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


class PaginationTokens:
    """Issues and reads tokens; ``key`` is called per use so a cached secret can refresh underneath."""

    def __init__(self, key: Callable[[], bytes], ttl: timedelta = DEFAULT_TTL) -> None:
        if ttl <= timedelta(0):
            raise ConfigurationError("pagination token lifetime must be positive")
        self._key = key
        self._ttl = ttl

    def _signing_key(self) -> bytes:
        key = self._key()
        if len(key) < MIN_KEY_BYTES:
            raise ConfigurationError(f"the pagination key must be at least {MIN_KEY_BYTES} bytes")
        return key

    def _mac(self, key: bytes, payload: str, scope: Mapping[str, str]) -> bytes:
        message = b"\n".join([TOKEN_VERSION.encode(), _canonical(dict(scope)), payload.encode()])
        return hmac.new(key, message, hashlib.sha256).digest()

    def issue(self, position: Mapping[str, str], scope: Mapping[str, str], now: datetime) -> str:
        expires = int((now + self._ttl).timestamp())
        payload = _b64encode(_canonical({"k": dict(position), "exp": expires}))
        signature = _b64encode(self._mac(self._signing_key(), payload, scope))
        return f"{TOKEN_VERSION}.{payload}.{signature}"

    def read(self, token: str, scope: Mapping[str, str], now: datetime) -> dict[str, str]:
        """The position a valid token carries; anything else raises InvalidPaginationTokenError."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise InvalidPaginationTokenError()
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_VERSION:
            raise InvalidPaginationTokenError()
        _, payload, signature = parts
        try:
            given = _b64decode(signature)
        except (binascii.Error, ValueError):
            raise InvalidPaginationTokenError() from None
        # Check the signature before looking inside: nothing unauthenticated is ever parsed.
        if not hmac.compare_digest(given, self._mac(self._signing_key(), payload, scope)):
            raise InvalidPaginationTokenError()
        try:
            data = json.loads(_b64decode(payload))
        except (binascii.Error, ValueError):
            raise InvalidPaginationTokenError() from None
        position = data.get("k") if isinstance(data, dict) else None
        expires = data.get("exp") if isinstance(data, dict) else None
        if (
            not isinstance(position, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in position.items())
            or not isinstance(expires, int)
        ):
            raise InvalidPaginationTokenError()
        if now.timestamp() >= expires:
            raise InvalidPaginationTokenError()
        return dict(position)


def secret_key(fetch: Callable[[], str | bytes | dict[str, Any] | None]) -> Callable[[], bytes]:
    """Adapt a (cached) secret fetch, e.g. Powertools' ``SecretsProvider.get``, into a key source."""

    def key() -> bytes:
        value = fetch()
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, bytes):
            return value
        raise ConfigurationError("the pagination secret is not a string secret")

    return key
