"""The real ASL on the local runtime, through every business path
(docs/architecture.md §1.2 invariants, §6)."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from execctl.operations import Operations
from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models.adapters import InternalObjectKind
from execution_core.models.execution import AttemptStatus, ExternalSystem, OutcomeStatus
from execution_core.models.ledger import LedgerEventType
from execution_core.repositories.internal_objects import InternalObjectRepository
from local_runtime.crm_server import CrmTestServer
from local_runtime.emulator import LocalStack
from tests.e2e.conftest import Tenant

pytestmark = pytest.mark.emulator


def _ledger_types(ops: Operations, tenant: Tenant, intent_id: str) -> list[LedgerEventType]:
    return [e.event_type for e in ops.ledger_entries(tenant.tenant_id, intent_id)]


def _internal_objects(runtime: LocalStack, tenant: Tenant) -> int:
    repository = InternalObjectRepository(
        runtime.client("dynamodb"), runtime.physical_name("InternalObjectsTable")
    )
    return sum(
        len(repository.list_for_account(tenant.tenant_id, tenant.account_id, kind, limit=100).items)
        for kind in InternalObjectKind
    )


@pytest.mark.parametrize(
    ("action_type", "kind"),
    [("CREATE_INTERNAL_NOTE", InternalObjectKind.NOTE), ("CREATE_INTERNAL_TASK", InternalObjectKind.TASK)],
)
def test_internal_tools_succeed_with_one_object_and_an_artifact(
    tenant: Tenant, ops: Operations, runtime: LocalStack, action_type: str, kind: InternalObjectKind
) -> None:
    intent = tenant.intent(action_type)

    assert tenant.run(intent) == "SUCCEEDED"

    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert [(r.system, r.object_type) for r in outcome.external_object_refs] == [
        (ExternalSystem.INTERNAL, kind.value)
    ]
    assert outcome.registry_version == 1
    attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert attempt is not None
    assert attempt.status is AttemptStatus.SUCCEEDED
    assert _ledger_types(ops, tenant, intent.action_intent_id) == [
        LedgerEventType.EXECUTION_STARTED,
        LedgerEventType.ACTION_EXECUTED,
        LedgerEventType.SIGNAL,
    ]
    assert _internal_objects(runtime, tenant) == 1
    # The raw response is in S3 under tenant/account/intent/attempt; only the reference travels on.
    expected_key = f"{tenant.tenant_id}/{tenant.account_id}/{intent.action_intent_id}/attempt-1/response.json"
    assert (
        outcome.raw_response_artifact_ref == f"s3://{runtime.physical_name('ArtifactsBucket')}/{expected_key}"
    )
    body = runtime.client("s3").get_object(Bucket=runtime.physical_name("ArtifactsBucket"), Key=expected_key)
    stored = json.loads(body["Body"].read())
    assert stored["object"]["object_id"] == outcome.external_object_refs[0].object_id


def test_crm_task_succeeds_with_exactly_one_crm_task(
    tenant: Tenant, ops: Operations, crm_server: CrmTestServer
) -> None:
    intent = tenant.intent("CREATE_CRM_TASK")

    assert tenant.run(intent) == "SUCCEEDED"

    assert len(crm_server.tasks) == 1
    assert crm_server.tasks[0].body == {
        "Subject": "Follow up renewal",
        "Priority": "High",
        "Description": "QBR",
    }
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert outcome.external_object_refs[0].system is ExternalSystem.CRM
    assert outcome.external_object_refs[0].object_id == crm_server.tasks[0].task_id


def test_crm_401_fails_with_auth(tenant: Tenant, ops: Operations, crm_server: CrmTestServer) -> None:
    crm_server.fail_next(401)
    intent = tenant.intent("CREATE_CRM_TASK")

    assert tenant.run(intent) == "FAILED"

    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert (outcome.status, outcome.error_class) == (OutcomeStatus.FAILED, ErrorClass.AUTH)
    assert crm_server.tasks == []
    assert crm_server.requests == 1  # AUTH is not transient: no retry
    assert _ledger_types(ops, tenant, intent.action_intent_id)[-2:] == [
        LedgerEventType.ACTION_FAILED,
        LedgerEventType.SIGNAL,
    ]


def test_crm_500_then_success_creates_one_task(
    tenant: Tenant, ops: Operations, crm_server: CrmTestServer
) -> None:
    crm_server.fail_next(500)
    intent = tenant.intent("CREATE_CRM_TASK")

    assert tenant.run(intent) == "SUCCEEDED"

    assert crm_server.requests == 2
    assert len(crm_server.tasks) == 1
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED


def _assert_cancelled_without_effect(
    tenant: Tenant, ops: Operations, runtime: LocalStack, intent_id: str, status: str
) -> None:
    assert status == "FAILED"
    executions = ops.executions_for(intent_id)
    assert executions[0].error == "ExecutionCancelled"
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent_id)
    assert outcome is not None
    assert (outcome.status, outcome.error_class) == (OutcomeStatus.CANCELLED, ErrorClass.KILL_SWITCH)
    assert outcome.error_code is ErrorCode.KILL_SWITCH_ENABLED
    assert _internal_objects(runtime, tenant) == 0
    assert _ledger_types(ops, tenant, intent_id) == [
        LedgerEventType.EXECUTION_STARTED,
        LedgerEventType.EXECUTION_CANCELLED,
        LedgerEventType.SIGNAL,
    ]


def test_global_stop_cancels_in_the_adapter_before_any_write(
    tenant: Tenant, ops: Operations, runtime: LocalStack
) -> None:
    """The switches are checked in the transaction that would make the effect: the adapter runs, refuses."""
    adapter = runtime.function("InternalAdapterFunction")
    before = adapter.invocations
    ops.set_global_stop(True, reason="incident drill")
    try:
        intent = tenant.intent()
        status = tenant.run(intent)
    finally:
        ops.set_global_stop(False)
    _assert_cancelled_without_effect(tenant, ops, runtime, intent.action_intent_id, status)
    assert adapter.invocations == before + 1  # KillSwitchEnabledError is permanent: no retry


def test_tenant_stop_cancels_in_the_adapter_before_any_write(
    tenant: Tenant, ops: Operations, runtime: LocalStack
) -> None:
    ops.configure_tenant(tenant.tenant_id, [tenant.account_id], execution_enabled=False)
    intent = tenant.intent()

    status = tenant.run(intent)

    _assert_cancelled_without_effect(tenant, ops, runtime, intent.action_intent_id, status)


def test_disabled_action_type_cancels_before_the_crm_is_called(
    tenant: Tenant, ops: Operations, runtime: LocalStack, crm_server: CrmTestServer
) -> None:
    ops.configure_tenant(tenant.tenant_id, [tenant.account_id], disabled_action_types=["CREATE_CRM_TASK"])
    intent = tenant.intent("CREATE_CRM_TASK")

    status = tenant.run(intent)

    _assert_cancelled_without_effect(tenant, ops, runtime, intent.action_intent_id, status)
    assert crm_server.requests == 0


def test_unknown_tenant_fails_closed(ops: Operations, runtime: LocalStack, crm_server: CrmTestServer) -> None:
    """A tenant without an execution configuration is stopped (a ConditionCheck on an absent item fails)."""
    tenant = Tenant(f"t-{uuid.uuid4().hex[:10]}", f"acct-{uuid.uuid4().hex[:8]}", ops)
    intent = tenant.intent()

    status = tenant.run(intent)

    _assert_cancelled_without_effect(tenant, ops, runtime, intent.action_intent_id, status)
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert "no execution configuration" in (outcome.error_message or "")


def test_expired_intent_expires_without_effect(tenant: Tenant, ops: Operations, runtime: LocalStack) -> None:
    intent = tenant.intent(expires_in=timedelta(seconds=-5))

    assert tenant.run(intent) == "FAILED"

    assert ops.executions_for(intent.action_intent_id)[0].error == "ExecutionExpired"
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert (outcome.status, outcome.error_code) == (OutcomeStatus.EXPIRED, ErrorCode.INTENT_EXPIRED)
    assert _internal_objects(runtime, tenant) == 0
    assert _ledger_types(ops, tenant, intent.action_intent_id)[-2:] == [
        LedgerEventType.EXECUTION_EXPIRED,
        LedgerEventType.SIGNAL,
    ]


def test_approval_of_an_unstored_intent_ends_visibly_and_blocks_nothing(
    tenant: Tenant, ops: Operations, runtime: LocalStack
) -> None:
    """Retried for a bounded time, then FAILED with an audit entry keyed by the execution: no attempt, no
    outcome, nothing in the partition the event names (no stored intent vouches for that tenant), the
    entry in the unattributed ledger; a later approval runs normally."""
    intent = tenant.intent(store=False)

    assert tenant.run(intent) == "FAILED"

    (execution,) = ops.executions_for(intent.action_intent_id)
    assert execution.error == "ApprovalNotExecuted"
    prepare_attempts = ops.states_entered(execution.execution_arn).count("PrepareExecution")
    assert prepare_attempts == 1  # one state, retried inside it
    assert ops.attempt(tenant.tenant_id, tenant.account_id, intent.action_intent_id) is None
    assert ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id) is None
    assert ops.ledger_entries(tenant.tenant_id, intent.action_intent_id) == []
    (entry,) = [e for e in ops.ledger.list_unattributed(200) if e.action_intent_id == intent.action_intent_id]
    assert (entry.event_type, entry.tenant_id) == (LedgerEventType.APPROVAL_NOT_EXECUTED, tenant.tenant_id)
    assert entry.details["error_code"] == "INTENT_NOT_FOUND"
    assert entry.execution_name == execution.execution_arn.rsplit(":", 1)[-1]

    assert ops.put_intent(intent)
    ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    executions = ops.wait_for_executions(intent.action_intent_id, count=2)
    assert sorted(e.status for e in executions) == ["FAILED", "SUCCEEDED"]
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert _internal_objects(runtime, tenant) == 1
    assert _ledger_types(ops, tenant, intent.action_intent_id) == [
        LedgerEventType.EXECUTION_STARTED,
        LedgerEventType.ACTION_EXECUTED,
        LedgerEventType.SIGNAL,
    ]


def test_intent_stored_just_after_its_approval_runs_once(
    tenant: Tenant, ops: Operations, runtime: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream may write the intent just after emitting ACTION_APPROVED: Prepare waits for it."""
    intent = tenant.intent(store=False)
    prepare = runtime.function("PrepareExecutionFunction")
    before = prepare.invocations
    first_look_done = threading.Event()
    invoke = prepare.invoke

    def invoke_and_report(event: Any, **how: Any) -> tuple[str, bool]:
        try:
            return invoke(event, **how)
        finally:
            first_look_done.set()

    monkeypatch.setattr(prepare, "invoke", invoke_and_report)
    ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    # Store the intent only once Prepare's first look has returned (found nothing), however slow the machine.
    assert first_look_done.wait(timeout=60)
    assert ops.put_intent(intent)  # the first look found nothing; a retry finds it

    (execution,) = ops.wait_for_executions(intent.action_intent_id)

    assert execution.status == "SUCCEEDED"
    assert prepare.invocations - before >= 2
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert _internal_objects(runtime, tenant) == 1


def test_missing_required_parameter_fails_with_validation(tenant: Tenant, ops: Operations) -> None:
    intent = tenant.intent("CREATE_INTERNAL_TASK", {"description": "no title"})

    assert tenant.run(intent) == "FAILED"

    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert (outcome.error_class, outcome.error_code) == (
        ErrorClass.VALIDATION,
        ErrorCode.MISSING_REQUIRED_PARAMETER,
    )
    assert "title" in (outcome.error_message or "")


def test_ten_concurrent_duplicate_approvals_make_exactly_one_effect(
    tenant: Tenant, ops: Operations, crm_server: CrmTestServer
) -> None:
    intent = tenant.intent("CREATE_CRM_TASK")

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(
            pool.map(
                lambda _: ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id), range(10)
            )
        )
    executions = ops.wait_for_executions(intent.action_intent_id, count=10, timeout=120)

    assert len(executions) == 10
    assert {e.status for e in executions} == {"SUCCEEDED"}  # one did the work, nine ended as duplicates
    assert len(crm_server.tasks) == 1
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert outcome.attempt_count == 1
    assert _ledger_types(ops, tenant, intent.action_intent_id) == [
        LedgerEventType.EXECUTION_STARTED,
        LedgerEventType.ACTION_EXECUTED,
        LedgerEventType.SIGNAL,
    ]
