"""Opaque, authenticated pagination tokens for the status API's list endpoint.

A token carries the DynamoDB position (the key of a page's last item) and an expiry. It is sealed with
the standard library only (the layer ships no ``cryptography``): encrypt-then-MAC, both keyed by
sub-keys derived from the Secrets Manager secret,

- the payload (expiry and position, a length-prefixed binary record, not JSON) is encrypted with an
  HMAC-SHA256 keystream in counter mode under a random 16-byte nonce, so a token shows nothing of the
  key layout and two tokens for the same position differ;
- an HMAC-SHA256 tag covers the version, the query it belongs to (route, tenant, account, page size),
  the nonce and the ciphertext: the scope is part of the authenticated message but not of the token,
  so a token replayed against another account, tenant or page size simply fails to verify.

Tokens are canonical: decoding then re-encoding gives back exactly the token, so every other spelling of
the same bytes (``=`` padding, the standard alphabet, different unused bits in the last character) is
refused like any other change. The expiry is inside the sealed payload; a token stops working after
``ttl``.

Every failure is an ``InvalidPaginationTokenError`` (a 400), whatever was wrong: the response never says
which check failed. The key comes from Secrets Manager through a cached provider (see ``secret_key``).
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import struct
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from execution_core.errors import ConfigurationError, InvalidInputError

TOKEN_VERSION = "v2"  # noqa: S105 - the token format version, not a secret
MAX_TOKEN_LENGTH = 2048
MIN_KEY_BYTES = 32
DEFAULT_TTL = timedelta(minutes=15)
NONCE_BYTES = 16
TAG_BYTES = 32
_BLOCK = hashlib.sha256().digest_size
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_EXPIRY = struct.Struct(">Q")
_LENGTH = struct.Struct(">H")


class InvalidPaginationTokenError(InvalidInputError):
    default_message = "The next_token is invalid or has expired"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode_canonical(text: str) -> bytes:
    """The bytes ``text`` spells, only when ``text`` is their one unpadded URL-safe spelling."""
    if not _B64URL.fullmatch(text):
        raise InvalidPaginationTokenError()
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidPaginationTokenError() from None
    if _b64encode(data) != text:
        raise InvalidPaginationTokenError()
    return data


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _pack(position: Mapping[str, str], expires: int) -> bytes:
    """Expiry, then each (name, value) sorted by name, each string UTF-8 with a 2-byte length."""
    parts = [_EXPIRY.pack(expires)]
    for name in sorted(position):
        for text in (name, position[name]):
            raw = text.encode()
            parts.append(_LENGTH.pack(len(raw)) + raw)
    return b"".join(parts)


def _unpack(data: bytes) -> tuple[dict[str, str], int]:
    """The inverse of ``_pack``; anything ``_pack`` would not have produced is refused."""
    if len(data) < _EXPIRY.size:
        raise InvalidPaginationTokenError()
    (expires,) = _EXPIRY.unpack_from(data)
    offset = _EXPIRY.size
    texts: list[str] = []
    try:
        while offset < len(data):
            (size,) = _LENGTH.unpack_from(data, offset)
            offset += _LENGTH.size
            if offset + size > len(data):
                raise InvalidPaginationTokenError()
            texts.append(data[offset : offset + size].decode("utf-8"))
            offset += size
    except (struct.error, UnicodeDecodeError):
        raise InvalidPaginationTokenError() from None
    if len(texts) % 2:
        raise InvalidPaginationTokenError()
    position = dict(zip(texts[::2], texts[1::2], strict=True))
    if _pack(position, expires) != data:  # duplicate or unsorted names: not canonical
        raise InvalidPaginationTokenError()
    return position, expires


def _derive(secret: bytes, label: str) -> bytes:
    """Independent sub-keys for encryption and authentication from the one secret."""
    return hmac.new(secret, f"pagination-token/{TOKEN_VERSION}/{label}".encode(), hashlib.sha256).digest()


def _keystream(key: bytes, nonce: bytes, size: int) -> bytes:
    blocks = (
        hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        for counter in range(-(-size // _BLOCK))
    )
    return b"".join(blocks)[:size]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


class PaginationTokens:
    """Issues and reads tokens; ``key`` is called per use so a cached secret can refresh underneath."""

    def __init__(
        self,
        key: Callable[[], bytes],
        ttl: timedelta = DEFAULT_TTL,
        nonce: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if ttl <= timedelta(0):
            raise ConfigurationError("pagination token lifetime must be positive")
        self._key = key
        self._ttl = ttl
        self._nonce = nonce

    def _subkeys(self) -> tuple[bytes, bytes]:
        secret = self._key()
        if len(secret) < MIN_KEY_BYTES:
            raise ConfigurationError(f"the pagination key must be at least {MIN_KEY_BYTES} bytes")
        return _derive(secret, "enc"), _derive(secret, "mac")

    @staticmethod
    def _tag(mac_key: bytes, scope: Mapping[str, str], body: bytes) -> bytes:
        message = b"\n".join([TOKEN_VERSION.encode(), _canonical(dict(scope)), body])
        return hmac.new(mac_key, message, hashlib.sha256).digest()

    def issue(self, position: Mapping[str, str], scope: Mapping[str, str], now: datetime) -> str:
        enc_key, mac_key = self._subkeys()
        plaintext = _pack(position, int((now + self._ttl).timestamp()))
        nonce = self._nonce(NONCE_BYTES)
        body = nonce + _xor(plaintext, _keystream(enc_key, nonce, len(plaintext)))
        return f"{TOKEN_VERSION}.{_b64encode(body)}.{_b64encode(self._tag(mac_key, scope, body))}"

    def read(self, token: str, scope: Mapping[str, str], now: datetime) -> dict[str, str]:
        """The position a valid token carries; anything else raises InvalidPaginationTokenError."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise InvalidPaginationTokenError()
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_VERSION:
            raise InvalidPaginationTokenError()
        body = _b64decode_canonical(parts[1])
        given = _b64decode_canonical(parts[2])
        if len(body) <= NONCE_BYTES or len(given) != TAG_BYTES:
            raise InvalidPaginationTokenError()
        enc_key, mac_key = self._subkeys()
        # Check the tag before decrypting: nothing unauthenticated is ever parsed.
        if not hmac.compare_digest(given, self._tag(mac_key, scope, body)):
            raise InvalidPaginationTokenError()
        nonce, ciphertext = body[:NONCE_BYTES], body[NONCE_BYTES:]
        position, expires = _unpack(_xor(ciphertext, _keystream(enc_key, nonce, len(ciphertext))))
        if now.timestamp() >= expires:
            raise InvalidPaginationTokenError()
        return position


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
