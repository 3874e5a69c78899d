"""The safety properties of pipeline v2 through the real ASL and the deployed functions: a stop is a stop
(even for a retry already scheduled), a lease follows its holder's liveness, and forged step payloads do
nothing."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from execctl.operations import Operations
from execution_core.contracts import PreparedExecution
from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models.adapters import InternalObjectKind
from execution_core.models.execution import AttemptStatus, OutcomeStatus
from execution_core.models.ledger import LedgerEventType
from execution_core.repositories.internal_objects import InternalObjectRepository
from execution_core.services.deterministic_ids import lease_id_for
from execution_core.services.prepare import lease_claim, prepared_execution, started_entry
from local_runtime.crm_server import AfterWrite, CrmTestServer
from local_runtime.emulator import LocalStack
from tests.e2e.conftest import Steps, Tenant

pytestmark = pytest.mark.emulator


def _objects(runtime: LocalStack, tenant: Tenant) -> int:
    repository = InternalObjectRepository(
        runtime.client("dynamodb"), runtime.physical_name("InternalObjectsTable")
    )
    return sum(
        len(repository.list_for_account(tenant.tenant_id, tenant.account_id, kind, limit=100).items)
        for kind in InternalObjectKind
    )


@pytest.fixture
def global_stop_off(ops: Operations) -> Iterator[None]:
    yield
    ops.set_global_stop(False)


@pytest.fixture
def clear_faults(runtime: LocalStack) -> Iterator[None]:
    yield
    for function in runtime.functions.values():
        function.clear_faults()


# ---------------------------------------------------------------- a stop is a stop
def test_a_global_stop_between_a_crm_429_and_its_retry_means_no_further_call(
    tenant: Tenant, ops: Operations, crm_server: CrmTestServer, global_stop_off: None
) -> None:
    """The switch is flipped while the CRM answers the first attempt; the retry Step Functions already
    scheduled re-authorizes in the same transaction as its reservation, and never calls the CRM."""
    intent = tenant.intent("CREATE_CRM_TASK")
    crm_server.fail_next(429)
    flipped = threading.Event()

    def stop_everything(_method: str) -> None:
        if not flipped.is_set():
            ops.set_global_stop(True, reason="CRM incident")
            flipped.set()

    crm_server.on_request = stop_everything

    assert tenant.run(intent) == "FAILED"

    assert flipped.is_set()
    assert crm_server.upserts == 1
    assert crm_server.tasks == []
    (execution,) = ops.executions_for(intent.action_intent_id)
    assert execution.error == "ExecutionCancelled"
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert (outcome.status, outcome.error_code) == (OutcomeStatus.CANCELLED, ErrorCode.KILL_SWITCH_ENABLED)
    assert "global" in (outcome.error_message or "")


def test_a_tenant_stop_between_a_failed_internal_attempt_and_its_retry_means_no_write(
    tenant: Tenant, ops: Operations, runtime: LocalStack, clear_faults: None
) -> None:
    intent = tenant.intent()
    adapter = runtime.function("InternalAdapterFunction")
    before = adapter.invocations

    def stop_the_tenant() -> None:
        ops.set_tenant_execution(tenant.tenant_id, enabled=False, reason="stopped between the attempts")

    adapter.inject_fault("DownstreamError", on_fault=stop_the_tenant)

    assert tenant.run(intent) == "FAILED"

    assert adapter.invocations - before == 2  # the failed attempt and the refused retry
    assert _objects(runtime, tenant) == 0
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert (outcome.status, outcome.error_class) == (OutcomeStatus.CANCELLED, ErrorClass.KILL_SWITCH)


# ---------------------------------------------------------------- the lease follows liveness
def test_a_live_holder_keeps_its_lease_past_expiry(
    tenant: Tenant, ops: Operations, crm_server: CrmTestServer
) -> None:
    """A duplicate approval after the lease expired asks Step Functions: the holder runs, so no takeover."""
    intent = tenant.intent("CREATE_CRM_TASK")
    in_call = threading.Event()
    release = threading.Event()

    def hold_the_call(_method: str) -> None:
        in_call.set()
        release.wait(10)

    crm_server.on_request = hold_the_call
    ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert in_call.wait(30), "the first execution never reached the CRM"
    _expire_lease(ops, tenant, intent.action_intent_id)

    ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    duplicate = _wait_for_one_ended(ops, intent.action_intent_id)
    release.set()
    executions = ops.wait_for_executions(intent.action_intent_id, count=2)

    assert ops.states_entered(duplicate) == ["PrepareExecution", "DuplicateIgnored"]
    assert {e.status for e in executions} == {"SUCCEEDED"}
    assert len(crm_server.tasks) == 1
    attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert attempt is not None
    assert (attempt.status, attempt.attempt_count) == (AttemptStatus.SUCCEEDED, 1)


def test_the_lease_of_an_ended_holder_is_taken_over_once_it_expired(
    tenant: Tenant, ops: Operations, runtime: LocalStack, steps: Steps
) -> None:
    """A holder that ended without recording (aborted, say) left a RUNNING attempt: the next approval
    takes it over and runs the intent to its one effect."""
    other = tenant.intent()
    assert tenant.run(other) == "SUCCEEDED"
    (ended,) = ops.executions_for(other.action_intent_id)
    intent = tenant.intent()
    _hold_lease(ops, steps, tenant, intent.action_intent_id, ended.execution_arn, expired=True)

    assert tenant.run(intent) == "SUCCEEDED"

    attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert attempt is not None
    assert (attempt.status, attempt.attempt_count) == (AttemptStatus.SUCCEEDED, 2)
    assert _objects(runtime, tenant) == 2  # one per intent
    types = [e.event_type for e in ops.ledger_entries(tenant.tenant_id, intent.action_intent_id)]
    assert types.count(LedgerEventType.EXECUTION_STARTED) == 1


def test_an_unexpired_lease_is_never_contested(tenant: Tenant, ops: Operations, steps: Steps) -> None:
    intent = tenant.intent()
    gone = steps.execution_arn(f"gone-{uuid.uuid4().hex}")  # does not exist: it would be taken over
    _hold_lease(ops, steps, tenant, intent.action_intent_id, gone, expired=False)

    assert tenant.run(intent) == "SUCCEEDED"

    (execution,) = ops.executions_for(intent.action_intent_id)
    assert ops.states_entered(execution.execution_arn) == ["PrepareExecution", "DuplicateIgnored"]


def test_a_holder_that_never_existed_is_taken_over(tenant: Tenant, ops: Operations, steps: Steps) -> None:
    intent = tenant.intent()
    gone = steps.execution_arn(f"gone-{uuid.uuid4().hex}")
    _hold_lease(ops, steps, tenant, intent.action_intent_id, gone, expired=True)

    assert tenant.run(intent) == "SUCCEEDED"
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED


def _expire_lease(ops: Operations, tenant: Tenant, intent_id: str) -> None:
    """The clock moves past the lease (the test edits the record instead of waiting 40 minutes)."""
    ops.client("dynamodb").update_item(
        TableName=ops.outputs["ExecutionAttemptsTableName"],
        Key=ops.attempts.key(tenant.tenant_id, tenant.account_id, intent_id),
        UpdateExpression="SET lease_expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 60)}},
    )


def _hold_lease(
    ops: Operations, steps: Steps, tenant: Tenant, intent_id: str, holder_arn: str, *, expired: bool
) -> None:
    """A RUNNING attempt held by ``holder_arn``, exactly as PrepareExecution would have written it."""
    intent = ops.intents.get(tenant.tenant_id, tenant.account_id, intent_id)
    assert intent is not None
    prepared = _prepared_without_lease(steps, tenant, intent_id)
    holder = prepared.model_copy(update={"execution_id": holder_arn, "lease_id": lease_id_for(holder_arn)})
    now = datetime.now(UTC) - (timedelta(hours=2) if expired else timedelta())
    result = ops.attempts.acquire_lease(
        lease_claim(holder, now, 3600),
        started_entry=ops.ledger.ledger_put_item(started_entry(holder)),
        holder_running=lambda _arn: True,
    )
    assert result.acquired


def _prepared_without_lease(steps: Steps, tenant: Tenant, intent_id: str) -> PreparedExecution:
    """What PrepareExecution computes for the intent, without taking its lease."""
    intent = tenant.ops.intents.get(tenant.tenant_id, tenant.account_id, intent_id)
    assert intent is not None
    entry = tenant.ops.registry.require(intent.action_type, intent.registry_version)
    return prepared_execution(
        intent,
        entry,
        execution_id=steps.execution_arn(f"holder-{uuid.uuid4().hex}"),
        started_at=datetime.now(UTC),
        adapter_function=steps.runtime.arn("InternalAdapterFunction"),
    )


def _wait_for_one_ended(ops: Operations, intent_id: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended = [e for e in ops.executions_for(intent_id) if e.status != "RUNNING"]
        if ended:
            return ended[0].execution_arn
        time.sleep(0.05)
    raise TimeoutError("no execution ended")


# ---------------------------------------------------------------- forged step payloads do nothing
Forge = Callable[[dict[str, Any], Tenant], dict[str, Any]]


def _other_lease(prepared: dict[str, Any], _: Tenant) -> dict[str, Any]:
    arn = prepared["execution_id"] + "-forged"
    return {**prepared, "execution_id": arn, "lease_id": lease_id_for(arn)}


def _other_tenant(prepared: dict[str, Any], victim: Tenant) -> dict[str, Any]:
    return {**prepared, "tenant_id": victim.tenant_id, "account_id": victim.account_id}


def _altered_parameters(prepared: dict[str, Any], _: Tenant) -> dict[str, Any]:
    parameters = dict(prepared["tool"]["parameters"])
    parameters["title" if "title" in parameters else "Subject"] = "Wire the money"
    return {**prepared, "tool": {**prepared["tool"], "parameters": parameters}}


def _rekeyed(forge: Forge) -> Forge:
    """The same forgery with an idempotency key recomputed to match it (a careful forger)."""

    def forged(prepared: dict[str, Any], tenant: Tenant) -> dict[str, Any]:
        from execution_core.contracts import PreparedExecution

        payload = PreparedExecution.model_validate(forge(prepared, tenant))
        return payload.model_copy(update={"idempotency_key": payload.expected_idempotency_key()}).model_dump(
            mode="json"
        )

    return forged


# forgery -> (how, what the adapters answer, what the recorder answers). A rekeyed payload claims an
# internal object its own key would not create, so the recorder refuses it before even trying the lease.
FORGERIES: dict[str, tuple[Forge, str, str]] = {
    "no-lease": (_other_lease, "LeaseNotHeldError", "LeaseNotHeldError"),
    "other-tenant": (_other_tenant, "IdempotencyKeyMismatchError", "IdempotencyKeyMismatchError"),
    "other-tenant-rekeyed": (_rekeyed(_other_tenant), "LeaseNotHeldError", "EffectNotFoundError"),
    "altered-parameters": (_altered_parameters, "IdempotencyKeyMismatchError", "IdempotencyKeyMismatchError"),
    "altered-parameters-rekeyed": (_rekeyed(_altered_parameters), "LeaseNotHeldError", "EffectNotFoundError"),
}


@pytest.fixture
def victim(ops: Operations) -> Tenant:
    victim = Tenant(f"t-{uuid.uuid4().hex[:10]}", f"acct-{uuid.uuid4().hex[:8]}", ops)
    ops.configure_tenant(victim.tenant_id, [victim.account_id])
    return victim


def _snapshot(ops: Operations, runtime: LocalStack, tenants: list[Tenant], intent_id: str) -> Any:
    return [
        (
            ops.attempt(t.tenant_id, t.account_id, intent_id),
            ops.outcome(t.tenant_id, t.account_id, intent_id),
            [e.event_type for e in ops.ledger_entries(t.tenant_id, intent_id)],
            _objects(runtime, t),
        )
        for t in tenants
    ]


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_action_payload_is_refused_and_writes_nothing(
    tenant: Tenant, victim: Tenant, ops: Operations, runtime: LocalStack, steps: Steps, forgery: str
) -> None:
    forge, error, _ = FORGERIES[forgery]
    prepared = steps.prepare(tenant, tenant.intent())  # a real execution holds the lease
    before = _snapshot(ops, runtime, [tenant, victim], prepared["action_intent_id"])

    payload, failed = steps.invoke("InternalAdapterFunction", forge(prepared, victim))

    assert failed
    assert payload["errorType"] == error
    assert _snapshot(ops, runtime, [tenant, victim], prepared["action_intent_id"]) == before


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_crm_payload_never_reaches_the_crm(
    tenant: Tenant, victim: Tenant, ops: Operations, steps: Steps, crm_server: CrmTestServer, forgery: str
) -> None:
    forge, error, _ = FORGERIES[forgery]
    prepared = steps.prepare(tenant, tenant.intent("CREATE_CRM_TASK"))
    ops.connect_crm(victim.tenant_id, victim.account_id, crm_server.base_url, "victim-token")
    forged = forge(prepared, victim)
    if forgery.startswith("altered-parameters"):
        tool = {**prepared["tool"], "parameters": {"Subject": "Wire the money"}}
        forged = (
            forge({**prepared, "tool": tool}, victim) if "rekeyed" in forgery else {**prepared, "tool": tool}
        )

    payload, failed = steps.invoke("CrmAdapterFunction", forged)

    assert failed
    assert payload["errorType"] == error
    assert crm_server.requests == 0
    assert ops.external_writes.get(forged["idempotency_key"]) is None


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_record_payload_is_refused_and_writes_nothing(
    tenant: Tenant, victim: Tenant, ops: Operations, runtime: LocalStack, steps: Steps, forgery: str
) -> None:
    forge, _, error = FORGERIES[forgery]
    prepared = steps.prepare(tenant, tenant.intent())
    effect = steps.act(prepared)  # the effect exists; only its recording is forged
    before = _snapshot(ops, runtime, [tenant, victim], prepared["action_intent_id"])

    payload, failed = steps.invoke(
        "ExecutionRecorderFunction", {"prepared": forge(prepared, victim), "effect": effect}
    )

    assert failed
    assert payload["errorType"] == error
    assert _snapshot(ops, runtime, [tenant, victim], prepared["action_intent_id"]) == before


def test_a_record_payload_claiming_an_effect_that_does_not_exist_writes_nothing(
    tenant: Tenant, ops: Operations, runtime: LocalStack, steps: Steps
) -> None:
    prepared = steps.prepare(tenant, tenant.intent())  # holds the lease, made no effect
    claimed = {
        "external_object_refs": [{"system": "INTERNAL", "object_type": "NOTE", "object_id": "note-invented"}],
        "raw_response_artifact_ref": f"s3://{runtime.physical_name('ArtifactsBucket')}/x/response.json",
        "tool_run_ref": "note-invented",
    }
    before = _snapshot(ops, runtime, [tenant], prepared["action_intent_id"])

    payload, failed = steps.invoke("ExecutionRecorderFunction", {"prepared": prepared, "effect": claimed})

    assert failed
    assert payload["errorType"] == "EffectNotFoundError"
    assert _snapshot(ops, runtime, [tenant], prepared["action_intent_id"]) == before


def test_a_forged_failure_payload_for_another_execution_writes_nothing(
    tenant: Tenant, ops: Operations, runtime: LocalStack, steps: Steps
) -> None:
    prepared = steps.prepare(tenant, tenant.intent())
    forged = _other_lease(prepared, tenant)
    before = _snapshot(ops, runtime, [tenant], prepared["action_intent_id"])
    request = {
        "state": {
            "detail": {k: prepared[k] for k in ("action_intent_id", "tenant_id", "account_id")},
            "prepared": {"result": forged},
            "error": {"Error": "AuthError", "Cause": "{}"},
        },
        "execution_id": forged["execution_id"],
    }

    payload, failed = steps.invoke("ExecutionFailureRecorderFunction", request)

    assert not failed
    assert payload["disposition"] == "DUPLICATE"
    assert _snapshot(ops, runtime, [tenant], prepared["action_intent_id"]) == before


# ---------------------------------------------------------------- replays never overwrite the original
def test_a_replayed_effect_keeps_the_original_raw_response(
    tenant: Tenant, runtime: LocalStack, steps: Steps
) -> None:
    prepared = steps.prepare(tenant, tenant.intent())
    first = steps.act(prepared)
    again = steps.act(prepared)

    assert again["replayed"] is True
    assert again["raw_response_artifact_ref"] == first["raw_response_artifact_ref"]
    bucket = runtime.physical_name("ArtifactsBucket")
    key = first["raw_response_artifact_ref"].removeprefix(f"s3://{bucket}/")
    versions = runtime.client("s3").list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    assert [v["Key"] for v in versions] == [key]


def test_a_crm_write_whose_answer_is_lost_is_upserted_again_to_the_same_task(
    tenant: Tenant, ops: Operations, crm_server: CrmTestServer
) -> None:
    """The CRM creates the task, then answers too late for the adapter's read timeout: the retry upserts by
    the same external id and finds that task (one task in the CRM), and the outcome says SUCCEEDED."""
    crm_server.write_then(AfterWrite.STALL, seconds=3.0)  # the local read timeout is 2 s
    intent = tenant.intent("CREATE_CRM_TASK")

    assert tenant.run(intent, timeout=90) == "SUCCEEDED"

    (task,) = crm_server.tasks
    assert crm_server.upserts == 2
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert [r.object_id for r in outcome.external_object_refs] == [task.task_id]
