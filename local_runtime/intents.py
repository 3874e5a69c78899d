"""Approved intents as the upstream decision system would write them (for the demo, tests and CLI)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from execution_core.models.intent import ActionIntent, ActionTarget, ApprovalSource


def new_intent(
    tenant_id: str,
    account_id: str,
    action_type: str,
    parameters: dict[str, Any],
    *,
    expires_in: timedelta = timedelta(hours=1),
    registry_version: int = 1,
    approved_by: str = "reviewer@example.com",
) -> ActionIntent:
    now = datetime.now(UTC).replace(microsecond=0)
    expires_at = now + expires_in
    return ActionIntent(
        action_intent_id=f"ai-{uuid.uuid4().hex[:12]}",
        action_type=action_type,
        target=ActionTarget(entity_type="account", entity_id=account_id),
        parameters=parameters,
        approved_by=approved_by,
        approval_timestamp=now,
        expires_at=expires_at,
        expires_at_epoch=int(expires_at.timestamp()),
        original_decision_id=f"dec-{uuid.uuid4().hex[:10]}",
        tenant_id=tenant_id,
        account_id=account_id,
        trace_id=f"trace-{uuid.uuid4().hex[:12]}",
        registry_version=registry_version,
        approval_source=ApprovalSource.HUMAN,
    )
