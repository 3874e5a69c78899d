"""The approved action intent: the one thing execution fulfils, never re-decides."""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, JsonValue, model_validator

from execution_core.models.common import FrozenModel, Identifier, ShortText, UtcDatetime


class ApprovalSource(StrEnum):
    HUMAN = "HUMAN"
    POLICY = "POLICY"


class ActionTarget(FrozenModel):
    """What the action is about, e.g. an account or a contact in the CRM."""

    entity_type: Identifier
    entity_id: Identifier


class ActionIntent(FrozenModel):
    action_intent_id: Identifier
    action_type: Identifier
    target: ActionTarget
    parameters: Annotated[dict[str, JsonValue], Field(max_length=100)]
    approved_by: ShortText
    approval_timestamp: UtcDatetime
    expires_at: UtcDatetime
    expires_at_epoch: Annotated[int, Field(ge=0)]
    original_decision_id: Identifier
    tenant_id: Identifier
    account_id: Identifier
    trace_id: Identifier
    registry_version: Annotated[int, Field(ge=1)]
    approval_source: ApprovalSource | None = None
    auto_executed: bool = False

    @model_validator(mode="after")
    def _expiry_forms_agree(self) -> Self:
        # Both forms are stored (ISO for people, epoch for cheap comparisons); they must not disagree.
        if int(self.expires_at.timestamp()) != self.expires_at_epoch:
            raise ValueError("expires_at and expires_at_epoch describe different instants")
        return self
