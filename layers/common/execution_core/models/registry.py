"""The action type registry: how an approved action maps onto a tool call, pinned by version."""

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from execution_core.models.common import FrozenModel, Identifier, UtcDatetime

ParamName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")]


class Transform(StrEnum):
    IDENTITY = "identity"
    UPPER = "upper"
    LOWER = "lower"
    TRIM = "trim"
    ISO_DATE = "iso_date"


class CompensationStrategy(StrEnum):
    NONE = "NONE"
    MANUAL = "MANUAL"
    AUTOMATIC = "AUTOMATIC"


class RiskClass(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class ParameterMapping(FrozenModel):
    tool_param: ParamName
    transform: Transform = Transform.IDENTITY
    required: bool = True


class ActionTypeRegistryEntry(FrozenModel):
    action_type: Identifier
    registry_version: Annotated[int, Field(ge=1, le=9_999_999_999)]
    tool_name: Identifier
    tool_schema_version: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")]
    parameter_mapping: Annotated[dict[ParamName, ParameterMapping], Field(max_length=100)]
    compensation_strategy: CompensationStrategy = CompensationStrategy.NONE
    risk_class: RiskClass
    published_at: UtcDatetime

    def same_content(self, other: "ActionTypeRegistryEntry") -> bool:
        """Equal in everything but the publish time: re-publishing such an entry is a no-op."""
        return self.model_dump(exclude={"published_at"}) == other.model_dump(exclude={"published_at"})
