"""A small, fixed world for local invoke: the records the sample events in events/ refer to.

Local invoke starts a fresh embedded runtime each time, so before a sample event runs, this seeds the
registry, the demo tenants, and a few intents with RUNNING attempts whose lease ids are the ones the
recorder samples carry (leases derive from the execution ARN, see execution_core.services.deterministic_ids).
``connect_sample_crm`` adds a local CRM test server every demo account is connected to, for the CRM
adapter's samples.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from execctl.operations import Operations
from execution_core.contracts import PreparedExecution, tool_namespace
from execution_core.models.adapters import InternalObject, InternalObjectKind
from execution_core.models.execution import ActionOutcome, ExternalObjectRef, ExternalSystem, OutcomeStatus
from execution_core.models.intent import ActionIntent, ActionTarget, ApprovalSource
from execution_core.services.artifacts import artifact_key
from execution_core.services.deterministic_ids import internal_object_id, lease_id_for
from execution_core.services.prepare import lease_claim, prepared_execution, started_entry
from local_runtime.crm_server import CrmTestServer
from local_runtime.demo_users import load_demo_tenants

SAMPLE_STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:execution:bel-local-execution"
SAMPLE_STARTED_AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SAMPLE_OUTCOME_STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/ExecutionOutcomes/stream/sample"
SAMPLE_EXPIRES_AT = datetime(2100, 1, 1, tzinfo=UTC)
SAMPLE_ADAPTERS = {
    "internal": "arn:aws:lambda:us-east-1:123456789012:function:bel-local-InternalAdapterFunction:live",
    "crm": "arn:aws:lambda:us-east-1:123456789012:function:bel-local-CrmAdapterFunction:live",
}


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
    SampleIntent(
        "ai-sample-adapter-0005", "tenant-acme", "acct-acme-emea", "CREATE_INTERNAL_NOTE",
        {"title": "Send the renewal quote"}, "sample-0005", running=True,
    ),
    SampleIntent(
        "ai-sample-aborted-0006", "tenant-acme", "acct-acme-emea", "CREATE_INTERNAL_NOTE",
        {"title": "Stopped before it wrote"}, "sample-0006", running=True,
    ),
    SampleIntent(
        "ai-sample-crm-task-0007", "tenant-acme", "acct-acme-us", "CREATE_CRM_TASK",
        {"subject": "Book the onboarding call"}, "sample-0007", running=True,
    ),
]  # fmt: skip


def sample_intent(sample: SampleIntent, now: datetime) -> ActionIntent:
    expires_at = SAMPLE_EXPIRES_AT  # fixed, so the sample events in events/ never change
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


def sample_prepared(sample: SampleIntent, ops: Operations, now: datetime) -> PreparedExecution:
    """What PrepareExecution would answer for the sample's execution (the recorder events carry it)."""
    intent = sample_intent(sample, now)
    entry = ops.registry.require(intent.action_type, intent.registry_version)
    return prepared_execution(
        intent,
        entry,
        execution_id=sample.execution_id,
        started_at=SAMPLE_STARTED_AT,
        adapter_function=SAMPLE_ADAPTERS[tool_namespace(entry.tool_name)],
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
        prepared = sample_prepared(sample, ops, moment)
        ops.attempts.acquire_lease(
            lease_claim(prepared, moment, lease_seconds=3600, approved_at=intent.approval_timestamp),
            started_entry=ops.ledger.ledger_put_item(started_entry(prepared)),
            holder_running=lambda _arn: True,
        )
    # The recorded sample's effect exists, as the adapter left it, so RecordOutcome can verify it.
    recorded = next(s for s in SAMPLE_INTENTS if s.action_intent_id == "ai-sample-recorded-0002")
    prepared = sample_prepared(recorded, ops, moment)
    ops.internal_objects.put(
        InternalObject(
            tenant_id=prepared.tenant_id,
            account_id=prepared.account_id,
            kind=InternalObjectKind.NOTE,
            object_id=internal_object_id(InternalObjectKind.NOTE.value, prepared.idempotency_key),
            title=str(prepared.tool.parameters["title"]),
            idempotency_key=prepared.idempotency_key,
            action_intent_id=prepared.action_intent_id,
            raw_response_artifact_ref=f"s3://{ops.outputs['ArtifactsBucketName']}/"
            + artifact_key(prepared.tenant_id, prepared.account_id, prepared.action_intent_id, 1),
            created_at=moment,
        )
    )


def connect_sample_crm(ops: Operations) -> CrmTestServer:
    """Start a local CRM test server and connect every demo account to it (the caller stops it)."""
    token = secrets.token_urlsafe(24)
    crm = CrmTestServer(token=token).start()
    try:
        for tenant in load_demo_tenants():
            for account_id in tenant.account_ids:
                ops.connect_crm(tenant.tenant_id, account_id, crm.base_url, token)
    except BaseException:
        crm.stop()
        raise
    return crm


def _resolve_request(prepared: PreparedExecution) -> dict[str, Any]:
    """What the reconciler sends a connector adapter to settle an in-doubt write (EffectResolver)."""
    return {
        "resolve": {
            "tenant_id": prepared.tenant_id,
            "account_id": prepared.account_id,
            "action_intent_id": prepared.action_intent_id,
            "action_type": prepared.action_type,
            "idempotency_key": prepared.idempotency_key,
            "tool_name": prepared.tool.tool_name,
        }
    }


def _sample(intent_id: str) -> SampleIntent:
    return next(s for s in SAMPLE_INTENTS if s.action_intent_id == intent_id)


def _failure_event(prepared: PreparedExecution, error: str, message: str) -> dict[str, Any]:
    cause = {"errorType": error, "errorMessage": message, "stackTrace": ['  File "/var/task/app.py", line 1']}
    return {
        "state": {
            "version": "0",
            "id": f"sample-event-{prepared.execution_id.rsplit('-', 1)[-1]}",
            "detail-type": "ACTION_APPROVED",
            "source": "decision.approvals",
            "detail": {
                "action_intent_id": prepared.action_intent_id,
                "tenant_id": prepared.tenant_id,
                "account_id": prepared.account_id,
            },
            "prepared": {"result": prepared.model_dump(mode="json")},
            "error": {"Error": error, "Cause": json.dumps(cause)},
        },
        "execution_id": prepared.execution_id,
    }


def _approval(sample: SampleIntent, event_id: str) -> dict[str, Any]:
    """The ACTION_APPROVED event that started the sample's execution (its input)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "ACTION_APPROVED",
        "source": "decision.approvals",
        "account": "123456789012",
        "time": "2026-11-25T09:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "action_intent_id": sample.action_intent_id,
            "tenant_id": sample.tenant_id,
            "account_id": sample.account_id,
            "approval_source": "HUMAN",
        },
    }


def _outcome_stream_batch(ops: Operations, prepared: PreparedExecution, note_id: str) -> dict[str, Any]:
    """One INSERT of the outcome table's stream, as Lambda hands it to the outbox publisher."""
    outcome = ActionOutcome(
        action_intent_id=prepared.action_intent_id,
        status=OutcomeStatus.SUCCEEDED,
        external_object_refs=[
            ExternalObjectRef(system=ExternalSystem.INTERNAL, object_type="NOTE", object_id=note_id)
        ],
        attempt_count=1,
        tool_name=prepared.tool.tool_name,
        tool_schema_version=prepared.tool.tool_schema_version,
        registry_version=prepared.tool.registry_version,
        tool_run_ref=note_id,
        started_at=SAMPLE_STARTED_AT,
        completed_at=SAMPLE_STARTED_AT,
        tenant_id=prepared.tenant_id,
        account_id=prepared.account_id,
        trace_id=prepared.trace_id,
        action_type=prepared.action_type,
        original_decision_id=prepared.original_decision_id,
    )
    image = ops.outcomes.outcome_put_item(outcome)["Put"]["Item"]
    return {
        "Records": [
            {
                "eventID": "sample-0002-insert",
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": SAMPLE_STARTED_AT.timestamp(),
                    "Keys": {"pk": image["pk"], "sk": image["sk"]},
                    "NewImage": image,
                    "SequenceNumber": "100000000000000000001",
                    "SizeBytes": 512,
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": SAMPLE_OUTCOME_STREAM,
            }
        ]
    }


def sample_events(ops: Operations, now: datetime) -> dict[str, dict[str, Any]]:
    """The step events in events/ that refer to the sample world, by file name (kept equal by a test)."""
    recorded = sample_prepared(_sample("ai-sample-recorded-0002"), ops, now)
    note_id = internal_object_id(InternalObjectKind.NOTE.value, recorded.idempotency_key)
    bucket = ops.outputs["ArtifactsBucketName"]
    first = _sample("ai-sample-note-0001")
    aborted = _sample("ai-sample-aborted-0006")
    return {
        "prepare_execution_started.json": {
            "event": _approval(first, "sample-event-0001"),
            "execution_id": first.execution_id,
        },
        "reconciler_execution_aborted_recorded.json": {
            "version": "0",
            "id": "sample-status-change-0006",
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": "123456789012",
            "time": "2026-11-25T09:05:00Z",
            "region": "us-east-1",
            "resources": [aborted.execution_id],
            "detail": {
                "executionArn": aborted.execution_id,
                "stateMachineArn": SAMPLE_STATE_MACHINE.replace(":execution:", ":stateMachine:"),
                "name": aborted.execution_name,
                "status": "ABORTED",
                "input": json.dumps(_approval(aborted, "sample-event-0006")),
            },
        },
        "reconciler_sweep_dry_run.json": {"sweep": {"dry_run": True, "older_than_seconds": 0}},
        "outcome_publisher_outcome_published.json": _outcome_stream_batch(ops, recorded, note_id),
        "crm_adapter_task_created.json": sample_prepared(
            _sample("ai-sample-crm-task-0007"), ops, now
        ).model_dump(mode="json"),
        # The CRM refused this sample's credential, so nothing was reserved: the lookup settles it as absent.
        "crm_adapter_resolve_never_reserved.json": _resolve_request(
            sample_prepared(_sample("ai-sample-crm-auth-0003"), ops, now)
        ),
        "internal_adapter_note_written.json": sample_prepared(
            _sample("ai-sample-adapter-0005"), ops, now
        ).model_dump(mode="json"),
        "execution_recorder_succeeded.json": {
            "prepared": recorded.model_dump(mode="json"),
            "effect": {
                "external_object_refs": [{"system": "INTERNAL", "object_type": "NOTE", "object_id": note_id}],
                "raw_response_artifact_ref": f"s3://{bucket}/"
                + artifact_key(recorded.tenant_id, recorded.account_id, recorded.action_intent_id, 1),
                "tool_run_ref": note_id,
                "replayed": False,
            },
        },
        "execution_failure_recorder_auth_failed.json": _failure_event(
            sample_prepared(_sample("ai-sample-crm-auth-0003"), ops, now),
            "AuthError",
            "The CRM refused the credentials (HTTP 401)",
        ),
        "execution_failure_recorder_kill_switch_cancelled.json": _failure_event(
            sample_prepared(_sample("ai-sample-cancelled-0004"), ops, now),
            "KillSwitchEnabledError",
            "This action type is disabled for this tenant",
        ),
    }
