"""Kill switches and account membership: what an operator can change without a deploy."""

from enum import StrEnum
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


class SwitchScope(StrEnum):
    """Which kill switch an operator changed."""

    GLOBAL = "GLOBAL"
    TENANT = "TENANT"
    ACTION_TYPE = "ACTION_TYPE"


class SwitchChange(FrozenModel):
    """An operator's kill-switch change, as the audit trail keeps it: who changed what, why, from what.

    ``stopped`` means execution is stopped by this switch (global stop on, tenant stopped, action type
    disabled), so every scope reads the same way."""

    change_id: Identifier
    scope: SwitchScope
    tenant_id: Identifier | None = None
    action_type: Identifier | None = None
    stopped_before: bool
    stopped_after: bool
    changed_by: ShortText
    reason: SafeMessage
    changed_at: UtcDatetime
