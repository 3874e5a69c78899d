"""The append-only audit trail: one entry per intent and event type."""

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from execution_core.models.common import FrozenModel, Identifier, SmallDict, UtcDatetime


class LedgerEventType(StrEnum):
    EXECUTION_STARTED = "EXECUTION_STARTED"
    ACTION_EXECUTED = "ACTION_EXECUTED"
    ACTION_FAILED = "ACTION_FAILED"
    EXECUTION_CANCELLED = "EXECUTION_CANCELLED"
    EXECUTION_EXPIRED = "EXECUTION_EXPIRED"
    SIGNAL = "SIGNAL"
    # An approval that ran nothing (its intent was not found, or could not be read): keyed per execution,
    # so it never blocks a later approval of the same intent.
    APPROVAL_NOT_EXECUTED = "APPROVAL_NOT_EXECUTED"

    @property
    def per_execution(self) -> bool:
        return self is LedgerEventType.APPROVAL_NOT_EXECUTED


class LedgerEntry(FrozenModel):
    tenant_id: Identifier
    account_id: Identifier
    action_intent_id: Identifier
    event_type: LedgerEventType
    occurred_at: UtcDatetime
    trace_id: Identifier
    attempt_count: Annotated[int, Field(ge=0)]
    execution_name: Identifier | None = None
    details: SmallDict = Field(default_factory=dict)
