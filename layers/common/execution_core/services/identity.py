"""Deterministic identities: the same intent always yields the same keys, so retries cannot duplicate."""

import hashlib
import re


def idempotency_key(
    tenant_id: str, account_id: str, action_intent_id: str, tool_name: str, registry_version: int
) -> str:
    """The key adapters dedupe external writes on: one per intent and pinned tool mapping."""
    material = "\x1f".join([tenant_id, account_id, action_intent_id, tool_name, str(registry_version)])
    return "idem-" + hashlib.sha256(material.encode()).hexdigest()


def lease_id_for(execution_id: str) -> str:
    """A lease owned by one state machine execution; a retried step of it re-enters the same lease."""
    return "lease-" + hashlib.sha256(execution_id.encode()).hexdigest()[:32]


_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9._:@-]")


def execution_name(execution_id: str) -> str:
    """The execution's name (last ARN segment), usable as a trace reference when nothing better exists."""
    name = _NOT_IDENTIFIER.sub("-", execution_id.rsplit(":", 1)[-1]).strip("-") or "execution"
    return name[:128]
