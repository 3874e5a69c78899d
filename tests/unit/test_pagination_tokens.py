"""Pagination tokens: round trip, and every kind of abuse is an InvalidPaginationTokenError (a 400)."""

from __future__ import annotations

import base64
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution_core.errors import ConfigurationError
from execution_core.services.pagination import (
    InvalidPaginationTokenError,
    PaginationTokens,
    _b64encode,
    secret_key,
)

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
    short = tokens(ttl=timedelta(seconds=60))
    with pytest.raises(InvalidPaginationTokenError):
        short.read(short.issue(POSITION, SCOPE, NOW), SCOPE, NOW + timedelta(seconds=60))


def test_another_key_does_not_verify() -> None:
    token = tokens().issue(POSITION, SCOPE, NOW)
    with pytest.raises(InvalidPaginationTokenError):
        tokens(b"z" * 48).read(token, SCOPE, NOW)


def _refused(token: str) -> bool:
    try:
        tokens().read(token, SCOPE, NOW)
    except InvalidPaginationTokenError:
        return True
    return False


def test_every_character_substitution_is_refused() -> None:
    """Every position, every other character of the token's alphabets (and padding): all refused."""
    token = tokens().issue(POSITION, SCOPE, NOW)
    alphabet = string.ascii_letters + string.digits + "-_.=+/"
    accepted = [
        (index, char)
        for index in range(len(token))
        for char in alphabet
        if char != token[index] and not _refused(token[:index] + char + token[index + 1 :])
    ]
    assert accepted == []


def test_every_bit_flip_of_the_sealed_bytes_is_refused() -> None:
    token = tokens().issue(POSITION, SCOPE, NOW)
    version, body, tag = token.split(".")
    for part in ("body", "tag"):
        raw = bytearray(base64.urlsafe_b64decode((body if part == "body" else tag) + "=="))
        for index in range(len(raw)):
            for bit in range(8):
                flipped = bytearray(raw)
                flipped[index] ^= 1 << bit
                text = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
                tampered = f"{version}.{text}.{tag}" if part == "body" else f"{version}.{body}.{text}"
                assert _refused(tampered), (part, index, bit)


def _fixed_nonce(byte: int) -> Callable[[int], bytes]:
    return lambda size: bytes([byte]) * size


def _same_bytes_spellings(text: str) -> set[str]:
    """Other base64 spellings of the bytes ``text`` encodes: padding, the standard alphabet, and other
    unused bits in the last character."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    variants = {text + "=" * (-len(text) % 4), text + "=", text + "==", text + "===="}
    variants.add(base64.b64encode(data).rstrip(b"=").decode())
    variants.add(base64.b64encode(data).decode())
    for char in string.ascii_letters + string.digits + "-_":
        other = text[:-1] + char
        try:
            if base64.urlsafe_b64decode(other + "=" * (-len(other) % 4)) == data:
                variants.add(other)
        except ValueError:
            continue
    variants.discard(text)
    return variants


def test_tokens_are_canonical_every_other_spelling_of_the_same_bytes_is_refused() -> None:
    # Several tokens, so the parts' lengths (and so their unused bits) vary.
    for nonce_byte in range(4):
        position = {**POSITION, "sk": POSITION["sk"] + "x" * nonce_byte}
        token = PaginationTokens(lambda: KEY, nonce=_fixed_nonce(nonce_byte)).issue(position, SCOPE, NOW)
        version, body, tag = token.split(".")
        # Decoding then re-encoding gives back exactly the token.
        assert _b64encode(base64.urlsafe_b64decode(body + "==")) == body
        assert _b64encode(base64.urlsafe_b64decode(tag + "==")) == tag
        body_variants, tag_variants = _same_bytes_spellings(body), _same_bytes_spellings(tag)
        assert body_variants
        assert tag_variants
        for variant in body_variants:
            assert _refused(f"{version}.{variant}.{tag}"), variant
        for variant in tag_variants:
            assert _refused(f"{version}.{body}.{variant}"), variant
        assert _refused(f"{version}.{body}.{tag}=")
        assert _refused(f" {token}")
        assert _refused(f"{token}\n")


def test_tokens_are_opaque() -> None:
    """Nothing of the key layout shows: no JSON, no attribute name or value, and no two tokens alike."""
    fixed_nonce = PaginationTokens(lambda: KEY, nonce=_fixed_nonce(1))  # deterministic bytes
    token = fixed_nonce.issue(POSITION, SCOPE, NOW)
    _, body, _ = token.split(".")
    sealed = base64.urlsafe_b64decode(body + "==")
    for text in [*POSITION, *POSITION.values(), "TENANT", "EXECUTION", '"exp"', '{"k"']:
        assert text.encode() not in sealed, text
    for text in [*POSITION.values(), "TENANT", "EXECUTION"]:
        assert text not in token
        assert _b64encode(text.encode()) not in token
    assert tokens().issue(POSITION, SCOPE, NOW) != tokens().issue(POSITION, SCOPE, NOW)


@given(
    st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=200), min_size=1, max_size=4),
    st.integers(min_value=60, max_value=3600),
)
def test_any_position_round_trips_within_its_lifetime(position: dict[str, str], ttl: int) -> None:
    issuer = tokens(ttl=timedelta(seconds=ttl))
    token = issuer.issue(position, SCOPE, NOW)
    assert issuer.read(token, SCOPE, NOW + timedelta(seconds=ttl - 1)) == position
    with pytest.raises(InvalidPaginationTokenError):
        issuer.read(token, SCOPE, NOW + timedelta(seconds=ttl))


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
