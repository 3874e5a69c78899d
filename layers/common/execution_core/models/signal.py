"""The execution outcome signal, in the perception layer's camelCase shape (Python side stays snake_case)."""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from execution_core.models.common import Identifier, ShortText, SmallDict, UtcDatetime


class CamelModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        defer_build=True,  # built on first use (ADR 0014), like FrozenModel
    )


class SignalType(StrEnum):
    ACTION_EXECUTED = "ACTION_EXECUTED"
    ACTION_FAILED = "ACTION_FAILED"


class SignalStatus(StrEnum):
    ACTIVE = "ACTIVE"


class ConfidenceSource(StrEnum):
    DIRECT = "direct"
    DERIVED = "derived"
    INFERRED = "inferred"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class SignalTtl(CamelModel):
    expires_at: UtcDatetime | None = None
    ttl_days: Annotated[int, Field(ge=1)] | None = None
    is_permanent: bool = False

    @model_validator(mode="after")
    def _permanent_xor_expiring(self) -> Self:
        if self.is_permanent == (self.expires_at is not None):
            raise ValueError("a signal is either permanent or has expires_at, not both or neither")
        return self


class SignalEvidence(CamelModel):
    evidence_refs: Annotated[list[Annotated[str, Field(max_length=1024)]], Field(max_length=20)]
    evidence_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    evidence_schema_version: ShortText = "v1"


class SignalSuppression(CamelModel):
    suppressed: bool = False
    suppressed_at: UtcDatetime | None = None
    suppressed_by: ShortText | None = None


class Signal(CamelModel):
    signal_id: Identifier
    signal_type: SignalType
    tenant_id: Identifier
    account_id: Identifier
    trace_id: Identifier
    dedupe_key: Annotated[str, Field(min_length=1, max_length=256)]
    window_key: Annotated[str, Field(min_length=1, max_length=256)]
    detector_version: ShortText
    detector_input_version: ShortText
    status: SignalStatus = SignalStatus.ACTIVE
    confidence: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
    confidence_source: ConfidenceSource
    severity: Severity
    ttl: SignalTtl
    evidence: SignalEvidence
    suppression: SignalSuppression = Field(default_factory=SignalSuppression)
    created_at: UtcDatetime
    updated_at: UtcDatetime
    metadata: SmallDict = Field(default_factory=dict)
    context: SmallDict = Field(default_factory=dict)
