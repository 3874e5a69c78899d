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


class LedgerEntry(FrozenModel):
    tenant_id: Identifier
    account_id: Identifier
    action_intent_id: Identifier
    event_type: LedgerEventType
    occurred_at: UtcDatetime
    trace_id: Identifier
    attempt_count: Annotated[int, Field(ge=0)]
    details: SmallDict = Field(default_factory=dict)
