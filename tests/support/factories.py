"""Valid model instances for tests; override any field by keyword."""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from execution_core.contracts import PreparedExecution, ToolCall
from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models import (
    ActionIntent,
    ActionOutcome,
    ActionTypeRegistryEntry,
    ExecutionAttempt,
    ExternalObjectRef,
    LedgerEntry,
    Signal,
)
from execution_core.services.deterministic_ids import idempotency_key, lease_id_for

NOW = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def intent(**overrides: Any) -> ActionIntent:
    expires = overrides.pop("expires_at", NOW + timedelta(hours=1))
    data: dict[str, Any] = {
        "action_intent_id": uid("ai"),
        "action_type": "CREATE_INTERNAL_TASK",
        "target": {"entity_type": "ACCOUNT", "entity_id": "acc-1"},
        "parameters": {"title": "Call back", "priority": 2, "score": 0.75, "tags": ["a", "b"]},
        "approved_by": "user@example.com",
        "approval_timestamp": NOW,
        "expires_at": expires,
        "expires_at_epoch": int(expires.timestamp()),
        "original_decision_id": uid("dec"),
        "tenant_id": uid("t"),
        "account_id": "acc-1",
        "trace_id": uid("trace"),
        "registry_version": 1,
        "approval_source": "HUMAN",
    }
    data.update(overrides)
    return ActionIntent.model_validate(data)


def attempt(**overrides: Any) -> ExecutionAttempt:
    data: dict[str, Any] = {
        "action_intent_id": uid("ai"),
        "tenant_id": uid("t"),
        "account_id": "acc-1",
        "status": "RUNNING",
        "attempt_count": 1,
        "lease_id": "exec-1",
        "lease_expires_at": int(NOW.timestamp()) + 300,
        "started_at": NOW,
        "updated_at": NOW,
        "trace_id": uid("trace"),
    }
    data.update(overrides)
    return ExecutionAttempt.model_validate(data)


def ref(**overrides: Any) -> ExternalObjectRef:
    data: dict[str, Any] = {"system": "INTERNAL", "object_type": "TASK", "object_id": uid("task")}
    data.update(overrides)
    return ExternalObjectRef.model_validate(data)


def outcome(**overrides: Any) -> ActionOutcome:
    data: dict[str, Any] = {
        "action_intent_id": uid("ai"),
        "status": "SUCCEEDED",
        "external_object_refs": [ref()],
        "attempt_count": 1,
        "tool_name": "internal.create_task",
        "tool_schema_version": "v1",
        "registry_version": 1,
        "raw_response_artifact_ref": "s3://artifacts-bucket/t/a/ai/1.json",
        "started_at": NOW,
        "completed_at": NOW + timedelta(seconds=3),
        "tenant_id": uid("t"),
        "account_id": "acc-1",
        "trace_id": uid("trace"),
    }
    data.update(overrides)
    return ActionOutcome.model_validate(data)


def failed_outcome(**overrides: Any) -> ActionOutcome:
    defaults: dict[str, Any] = {
        "status": "FAILED",
        "external_object_refs": [],
        "error_class": ErrorClass.DOWNSTREAM,
        "error_code": ErrorCode.DOWNSTREAM_ERROR,
        "error_message": "CRM returned 503",
    }
    return outcome(**(defaults | overrides))


def ledger_entry(**overrides: Any) -> LedgerEntry:
    data: dict[str, Any] = {
        "tenant_id": uid("t"),
        "account_id": "acc-1",
        "action_intent_id": uid("ai"),
        "event_type": "ACTION_EXECUTED",
        "occurred_at": NOW,
        "trace_id": uid("trace"),
        "attempt_count": 1,
        "details": {"tool_name": "internal.create_task", "duration_ms": 120, "ratio": 0.5, "ok": True},
    }
    data.update(overrides)
    return LedgerEntry.model_validate(data)


def signal(**overrides: Any) -> Signal:
    data: dict[str, Any] = {
        "signal_id": uid("sig"),
        "signal_type": "ACTION_EXECUTED",
        "tenant_id": uid("t"),
        "account_id": "acc-1",
        "trace_id": uid("trace"),
        "dedupe_key": uid("dedupe"),
        "window_key": "acc-1-ai-1",
        "detector_version": "execution-outcome-v1",
        "detector_input_version": "action-outcome-v1",
        "confidence": 1.0,
        "confidence_source": "direct",
        "severity": "low",
        "ttl": {"expires_at": NOW + timedelta(days=90), "ttl_days": 90, "is_permanent": False},
        "evidence": {
            "evidence_refs": ["s3://artifacts-bucket/x.json"],
            "evidence_hash": hashlib.sha256(b"x").hexdigest(),
        },
        "created_at": NOW,
        "updated_at": NOW,
        "metadata": {"tool_name": "internal.create_task"},
        "context": {"original_decision_id": "dec-1", "registry_version": 1},
    }
    data.update(overrides)
    return Signal.model_validate(data)


def registry_entry(**overrides: Any) -> ActionTypeRegistryEntry:
    data: dict[str, Any] = {
        "action_type": uid("CREATE_TASK"),
        "registry_version": 1,
        "tool_name": "internal.create_task",
        "tool_schema_version": "v1",
        "parameter_mapping": {
            "title": {"tool_param": "subject", "transform": "trim", "required": True},
            "due": {"tool_param": "due_date", "transform": "iso_date", "required": False},
        },
        "compensation_strategy": "NONE",
        "risk_class": "LOW",
        "published_at": NOW,
    }
    data.update(overrides)
    return ActionTypeRegistryEntry.model_validate(data)


def prepared(tool_name: str = "internal.create_task", **overrides: Any) -> PreparedExecution:
    """A PreparedExecution whose idempotency key covers its own content (pass ``parameters`` to change
    them; any other field in ``overrides`` replaces the built one, the key included)."""
    parameters: dict[str, Any] = overrides.pop("parameters", {"title": "Call back"})
    execution_id = overrides.pop(
        "execution_id", f"arn:aws:states:us-east-1:123456789012:execution:bel:{uid('run')}"
    )
    ids = {
        "tenant_id": uid("t"),
        "account_id": "acc-1",
        "action_intent_id": uid("ai"),
        "action_type": "CREATE_TASK",
    }
    ids |= {k: overrides.pop(k) for k in list(ids) if k in overrides}
    tool = ToolCall(tool_name=tool_name, tool_schema_version="v1", registry_version=1, parameters=parameters)
    data: dict[str, Any] = {
        **ids,
        "execution_id": execution_id,
        "lease_id": lease_id_for(execution_id),
        "attempt_count": 1,
        "trace_id": uid("trace"),
        "expires_at_epoch": int((NOW + timedelta(hours=1)).timestamp()),
        "started_at": NOW,
        "idempotency_key": idempotency_key(
            tool_name=tool_name, registry_version=1, parameters=parameters, **ids
        ),
        "tool": tool,
        "adapter_function": "arn:aws:lambda:us-east-1:123456789012:function:bel-InternalAdapterFunction",
    }
    return PreparedExecution.model_validate(data | overrides)
