"""Deterministic identities: the same intent always yields the same keys, so retries cannot duplicate."""

import hashlib
import json
import re
from collections.abc import Mapping

from pydantic import JsonValue


def canonical_json(value: JsonValue | Mapping[str, JsonValue]) -> str:
    """One text per value: sorted keys, no insignificant whitespace, so equal values hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def idempotency_key(
    *,
    tenant_id: str,
    account_id: str,
    action_intent_id: str,
    action_type: str,
    tool_name: str,
    registry_version: int,
    parameters: Mapping[str, JsonValue],
) -> str:
    """The key every effect is addressed by: one per intent *and* exactly what was approved.

    It covers the mapped tool parameters and the action type, so a step payload with altered parameters
    (or a different action type, which the kill switches are keyed on) yields another key, and the
    adapters refuse a payload whose key does not match its own content.
    """
    material = "\x1f".join(
        [
            tenant_id,
            account_id,
            action_intent_id,
            action_type,
            tool_name,
            str(registry_version),
            canonical_json(dict(parameters)),
        ]
    )
    return "idem-" + hashlib.sha256(material.encode()).hexdigest()


def internal_object_id(kind: str, key: str) -> str:
    """The internal adapter's object id for an idempotency key: a retry addresses the same object."""
    return f"{kind.lower()}-{key.removeprefix('idem-')[:40]}"


def lease_id_for(execution_id: str) -> str:
    """A lease owned by one state machine execution; a retried step of it re-enters the same lease."""
    return "lease-" + hashlib.sha256(execution_id.encode()).hexdigest()[:32]


_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9._:@-]")


def execution_name(execution_id: str) -> str:
    """The execution's name (last ARN segment), usable as a trace reference when nothing better exists."""
    name = _NOT_IDENTIFIER.sub("-", execution_id.rsplit(":", 1)[-1]).strip("-") or "execution"
    return name[:128]
