"""Kill switches and account membership: what an operator can change without a deploy."""

from typing import Annotated

from pydantic import Field

from execution_core.models.common import FrozenModel, Identifier, SafeMessage, ShortText, UtcDatetime


class TenantConfig(FrozenModel):
    tenant_id: Identifier
    execution_enabled: bool
    disabled_action_types: Annotated[list[Identifier], Field(max_length=200)] = Field(default_factory=list)
    account_ids: Annotated[list[Identifier], Field(max_length=99)] = Field(default_factory=list)
    updated_at: UtcDatetime | None = None


class GlobalKillSwitch(FrozenModel):
    """``enabled`` means "stop all execution", for every tenant."""

    enabled: bool
    reason: SafeMessage | None = None
    updated_at: UtcDatetime | None = None
    updated_by: ShortText | None = None
