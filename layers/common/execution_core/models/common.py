"""Field types shared by the models: identifiers that are safe inside keys, UTC timestamps, small scalars."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from execution_core.sanitize import sanitize_message

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(value: datetime) -> str:
    """Fixed-width ISO-8601 in UTC with a Z, so stored timestamps sort lexicographically by time."""
    return value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone")
    return value.astimezone(UTC)


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_require_aware),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]
"""A timezone-aware datetime, normalised to UTC; naive datetimes are rejected."""

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")]
"""An id that can be embedded in a key: no '#', '/', whitespace; at most 128 characters."""

ShortText = Annotated[str, Field(min_length=1, max_length=256)]
SafeMessage = Annotated[str, AfterValidator(sanitize_message)]
"""Free error text; sanitized on the way in so no model can carry a stack trace or a secret."""

Scalar = Annotated[str, Field(max_length=1024)] | bool | int | float | None
SmallDict = Annotated[dict[Annotated[str, Field(max_length=64)], Scalar], Field(max_length=32)]
"""Audit details and signal context: a few flat values, never a nested payload."""


class FrozenModel(BaseModel):
    """Immutable, closed records: unknown fields are an error, not silently dropped.

    ``defer_build``: a model's validator is built on its first use, not at import, so a cold start pays
    only for the models its request touches; SnapStart's priming builds them before the snapshot (ADR 0014).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
