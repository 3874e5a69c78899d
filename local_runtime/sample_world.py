"""A small, fixed world for local invoke: the records the sample events in events/ refer to.

Local invoke starts a fresh embedded runtime each time, so before a sample event runs, this seeds the
registry, the demo tenants, and a few intents with RUNNING attempts whose lease ids are the ones the
recorder samples carry (leases derive from the execution ARN, see execution_core.services.identity).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from execution_core.models.intent import ActionIntent, ActionTarget, ApprovalSource
from execution_core.services.identity import idempotency_key, lease_id_for
from local_runtime.identity import load_demo_tenants
from local_runtime.operations import Operations

SAMPLE_STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:execution:bel-local-ExecutionStateMachine"


@dataclass(frozen=True)
class SampleIntent:
    action_intent_id: str
    tenant_id: str
    account_id: str
    action_type: str
    parameters: dict[str, str]
    execution_name: str
    running: bool  # seed a RUNNING attempt held by the sample execution

    @property
    def execution_id(self) -> str:
        return f"{SAMPLE_STATE_MACHINE}:{self.execution_name}"

    @property
    def lease_id(self) -> str:
        return lease_id_for(self.execution_id)


SAMPLE_INTENTS = [
    SampleIntent(
        "ai-sample-note-0001", "tenant-acme", "acct-acme-emea", "CREATE_INTERNAL_NOTE",
        {"title": "Customer asked for a call back"}, "sample-0001", running=False,
    ),
    SampleIntent(
        "ai-sample-recorded-0002", "tenant-acme", "acct-acme-emea", "CREATE_INTERNAL_NOTE",
        {"title": "Renewal call notes"}, "sample-0002", running=True,
    ),
    SampleIntent(
        "ai-sample-crm-auth-0003", "tenant-acme", "acct-acme-us", "CREATE_CRM_TASK",
        {"subject": "Send the contract"}, "sample-0003", running=True,
    ),
    SampleIntent(
        "ai-sample-cancelled-0004", "tenant-globex", "acct-globex-main", "CREATE_CRM_TASK",
        {"subject": "Call the buyer"}, "sample-0004", running=True,
    ),
]  # fmt: skip


def sample_intent(sample: SampleIntent, now: datetime) -> ActionIntent:
    expires_at = (now + timedelta(days=365)).replace(microsecond=0)
    return ActionIntent(
        action_intent_id=sample.action_intent_id,
        action_type=sample.action_type,
        target=ActionTarget(entity_type="account", entity_id=sample.account_id),
        parameters=dict(sample.parameters),
        approved_by="reviewer@example.com",
        approval_timestamp=now.replace(microsecond=0),
        expires_at=expires_at,
        expires_at_epoch=int(expires_at.timestamp()),
        original_decision_id=f"dec-{sample.execution_name}",
        tenant_id=sample.tenant_id,
        account_id=sample.account_id,
        trace_id=f"trace-{sample.execution_name}",
        registry_version=1,
        approval_source=ApprovalSource.HUMAN,
    )


def seed_sample_world(ops: Operations, now: datetime | None = None) -> None:
    moment = now or datetime.now(UTC)
    ops.publish_registry()
    for tenant in load_demo_tenants():
        ops.configure_tenant(tenant.tenant_id, tenant.account_ids)
    for sample in SAMPLE_INTENTS:
        intent = sample_intent(sample, moment)
        ops.put_intent(intent)
        if not sample.running:
            continue
        entry = ops.registry.require(intent.action_type, intent.registry_version)
        ops.attempts.acquire_lease(
            tenant_id=intent.tenant_id,
            account_id=intent.account_id,
            action_intent_id=intent.action_intent_id,
            lease_id=sample.lease_id,
            trace_id=intent.trace_id,
            now=moment,
            lease_seconds=3600,
            execution_arn=sample.execution_id,
            idempotency_key=idempotency_key(
                intent.tenant_id,
                intent.account_id,
                intent.action_intent_id,
                entry.tool_name,
                intent.registry_version,
            ),
        )
