"""Nothing is lost (issue "Nothing is lost"), on the local runtime through the real ASL: every started
execution ends with an outcome, every outcome is published, every approval is accounted for.

The finalizer hears Step Functions' status-change events; the sweeper is fired on demand (it is a
scheduled rule); the outbox publishes from the outcome table's stream.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from execctl import cli as execctl
from execctl.operations import Operations
from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models.execution import AttemptStatus, OutcomeStatus
from execution_core.repositories.signals import SignalRepository
from execution_core.services.outbox import outcome_signal
from local_runtime import eventbridge
from local_runtime.crm_server import AfterWrite, CrmTestServer
from local_runtime.emulator import LocalEmulator, LocalStack
from local_runtime.event_tap import EventTap
from local_runtime.output import router
from local_runtime.project import LOCAL_PARAMETERS, operations_for
from local_runtime.sdk_events import OBSERVER, FaultKind
from tests.e2e.conftest import CRM_TOKEN, Steps, Tenant

pytestmark = pytest.mark.emulator


@pytest.fixture(autouse=True)
def _clean_runtime(runtime: LocalStack) -> Iterator[None]:
    yield
    eventbridge.pause_status_events(False)
    eventbridge.clear_failures()
    OBSERVER.clear()
    for function in runtime.functions.values():
        function.clear_faults()


class HeldCall:
    """Holds the CRM's next request until released (the call is "in flight")."""

    def __init__(self, crm: CrmTestServer) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        crm.on_request = self._hold

    def _hold(self, _method: str) -> None:
        if not self.arrived.is_set():
            self.arrived.set()
            self.release.wait(30)


def _wait(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout}s")
        time.sleep(0.05)


def _settled(runtime: LocalStack) -> None:
    """Everything set off so far has happened: status-change deliveries, then the outbox."""
    eventbridge.wait_for_deliveries(30)
    runtime.wait_for_streams()


def _assert_succeeded_with_the_task(
    ops: Operations, runtime: LocalStack, tap: EventTap, tenant: Tenant, intent_id: str, crm: CrmTestServer
) -> None:
    (task,) = crm.tasks
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert [r.object_id for r in outcome.external_object_refs] == [task.task_id]
    attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent_id)
    assert attempt is not None
    assert attempt.status is AttemptStatus.SUCCEEDED
    signals = SignalRepository(runtime.client("dynamodb"), runtime.physical_name("SignalsTable"))
    (signal,) = signals.list_for_account(tenant.tenant_id, tenant.account_id, limit=10).items
    events = tap.events_for(intent_id)
    assert sorted(e["detail-type"] for e in events) == ["ACTION_EXECUTED", "SIGNAL_CREATED"]
    assert {e["detail"]["dedupe_key"] for e in events} == {signal.dedupe_key}


# ---------------------------------------------------------------- the finalizer
def test_stop_execution_mid_crm_call_is_recorded_from_the_effect_without_a_new_approval(
    tenant: Tenant, ops: Operations, runtime: LocalStack, crm_server: CrmTestServer, tap: EventTap
) -> None:
    intent = tenant.intent("CREATE_CRM_TASK")
    held = HeldCall(crm_server)
    ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert held.arrived.wait(30)
    (execution,) = ops.executions_for(intent.action_intent_id)
    runtime.client("stepfunctions").stop_execution(executionArn=execution.execution_arn)
    held.release.set()  # the adapter's call was already under way: it completes, as in Lambda

    (ended,) = ops.wait_for_executions(intent.action_intent_id)
    _settled(runtime)

    assert ended.status == "ABORTED"
    assert len(ops.executions_for(intent.action_intent_id)) == 1  # no new approval was needed
    _assert_succeeded_with_the_task(ops, runtime, tap, tenant, intent.action_intent_id, crm_server)


def test_an_abort_heard_while_the_write_is_in_flight_is_left_in_doubt_then_settled(
    tenant: Tenant, ops: Operations, runtime: LocalStack, crm_server: CrmTestServer, tap: EventTap
) -> None:
    """As in AWS: the ABORTED event arrives at once, while the adapter's call is still under way (the
    emulator's own event, which waits for the call, is held back). The finalizer finds the write reserved
    and unconfirmed, looks it up, finds nothing yet, and leaves it in doubt (no verdict while the call may
    still land). The sweeper's next run settles it from what the call did."""
    eventbridge.pause_status_events(True)  # the only status change is the early one below
    intent = tenant.intent("CREATE_CRM_TASK")
    held = HeldCall(crm_server)
    ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert held.arrived.wait(30)
    (execution,) = ops.executions_for(intent.action_intent_id)
    early = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": eventbridge.STATUS_CHANGE,
        "source": "aws.states",
        "detail": {
            "executionArn": execution.execution_arn,
            "status": "ABORTED",
            "input": runtime.client("stepfunctions").describe_execution(executionArn=execution.execution_arn)[
                "input"
            ],
        },
    }
    runtime.client("stepfunctions").stop_execution(executionArn=execution.execution_arn)

    answer = runtime.function("ReconcilerFunction").invoke(early)

    assert '"IN_DOUBT"' in answer[0]
    attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert attempt is not None
    assert (attempt.status, attempt.in_doubt) == (AttemptStatus.RUNNING, True)
    assert ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id) is None
    held.release.set()
    (ended,) = ops.wait_for_executions(intent.action_intent_id)
    assert ended.status == "ABORTED"
    _wait(lambda: _write_status(ops, attempt.idempotency_key) == "COMPLETED", what="the adapter's finalize")
    _settled(runtime)
    assert ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id) is None  # nobody else

    result = _swept(ops, intent.action_intent_id)  # the sweeper's next run

    assert result["disposition"] == "RECORDED", result
    _settled(runtime)
    _assert_succeeded_with_the_task(ops, runtime, tap, tenant, intent.action_intent_id, crm_server)


@pytest.fixture(scope="module")
def short_machine(local_emulator: LocalEmulator) -> LocalStack:
    """A second stack whose state machine times out after 1 s, during a CRM call (the real definition
    otherwise)."""
    return local_emulator.deploy(
        stack_name="bel-timeout",
        parameter_overrides=LOCAL_PARAMETERS,
        definition_overrides={"TimeoutSeconds": 1},
    )


def test_a_machine_timeout_mid_crm_call_is_recorded_from_the_effect(
    short_machine: LocalStack, crm_server: CrmTestServer
) -> None:
    crm_server.reset()
    ops = operations_for(short_machine)
    ops.publish_registry()
    tenant = Tenant(f"t-{uuid.uuid4().hex[:10]}", f"acct-{uuid.uuid4().hex[:8]}", ops)
    ops.configure_tenant(tenant.tenant_id, [tenant.account_id])
    ops.connect_crm(tenant.tenant_id, tenant.account_id, crm_server.base_url, CRM_TOKEN)
    tap = EventTap(short_machine)
    intent = tenant.intent("CREATE_CRM_TASK")
    held = HeldCall(crm_server)
    ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert held.arrived.wait(30)

    (ended,) = ops.wait_for_executions(intent.action_intent_id, timeout=30)
    assert ended.status == "TIMED_OUT"
    _settled(short_machine)  # the finalizer: the write is in flight, so it is left in doubt
    attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert attempt is not None
    assert (attempt.status, attempt.in_doubt) == (AttemptStatus.RUNNING, True)
    held.release.set()
    _wait(lambda: len(crm_server.tasks) == 1, what="the held write")
    _wait(lambda: _write_status(ops, attempt.idempotency_key) == "COMPLETED", what="the adapter's finalize")

    result = _swept(ops, intent.action_intent_id)  # the sweeper's next run

    assert result["disposition"] == "RECORDED", result
    _settled(short_machine)
    _assert_succeeded_with_the_task(ops, short_machine, tap, tenant, intent.action_intent_id, crm_server)


# ---------------------------------------------------------------- the sweeper
def test_a_failure_recorder_failing_every_retry_is_finalized_by_the_sweeper(
    tenant: Tenant, ops: Operations, runtime: LocalStack, crm_server: CrmTestServer, tap: EventTap
) -> None:
    """Status-change events are lost too: only the sweeper is left, and it is enough."""
    eventbridge.pause_status_events()
    runtime.function("ExecutionFailureRecorderFunction").inject_fault("DataStoreUnavailableError", times=20)
    crm_server.fail_next(401)
    intent = tenant.intent("CREATE_CRM_TASK")

    assert tenant.run(intent) == "FAILED"
    (execution,) = ops.executions_for(intent.action_intent_id)
    assert execution.error == "FailureNotRecorded"
    assert ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id) is None
    runtime.function("ExecutionFailureRecorderFunction").clear_faults()

    result = _swept(ops, intent.action_intent_id)

    assert result == {
        "action_intent_id": intent.action_intent_id,
        "disposition": "RECORDED",
        "status": "FAILED",
    }
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert (outcome.status, outcome.error_code) == (
        OutcomeStatus.FAILED,
        ErrorCode.EXECUTION_ENDED_UNRECORDED,
    )
    assert "FailureNotRecorded" in (outcome.error_message or "")
    assert crm_server.tasks == []
    _settled(runtime)
    events = tap.events_for(intent.action_intent_id)
    assert sorted(e["detail-type"] for e in events) == ["ACTION_FAILED", "SIGNAL_CREATED"]


def test_the_sweeper_run_twice_over_the_same_state_changes_nothing_the_second_time(
    tenant: Tenant, ops: Operations, runtime: LocalStack
) -> None:
    eventbridge.pause_status_events()
    runtime.function("ExecutionRecorderFunction").inject_fault("DataStoreError")
    runtime.function("ExecutionFailureRecorderFunction").inject_fault("DataStoreError")
    intent = tenant.intent()
    assert tenant.run(intent) == "FAILED"  # the note exists; nothing recorded it

    first = _swept(ops, intent.action_intent_id)
    after_first = _records(ops, tenant, intent.action_intent_id)
    second = ops.reconcile(limit=100, older_than_seconds=0, include_deferred=True)  # everything running

    assert first["disposition"] == "RECORDED", first
    assert intent.action_intent_id not in [r["action_intent_id"] for r in second["results"]]
    assert _records(ops, tenant, intent.action_intent_id) == after_first
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED  # the effect existed: the sweeper says so


def _write_status(ops: Operations, key: str | None) -> str | None:
    record = ops.external_writes.get(key or "")
    return record.status.value if record is not None else None


def _records(ops: Operations, tenant: Tenant, intent_id: str) -> Any:
    return (
        ops.attempt(tenant.tenant_id, tenant.account_id, intent_id),
        ops.outcome(tenant.tenant_id, tenant.account_id, intent_id),
        [e.event_type for e in ops.ledger_entries(tenant.tenant_id, intent_id)],
    )


def test_attempts_the_sweeper_cannot_settle_never_block_the_ones_behind_them(
    tenant: Tenant, ops: Operations, steps: Steps, crm_server: CrmTestServer
) -> None:
    """Two CRM writes in doubt under a tenant stop (unsettleable for as long as the stop lasts) are older
    than a settleable attempt; a sweep of two attempts at a time still reaches it, because what it cannot
    settle it puts back for later instead of looking at it again on every run."""
    stuck = []
    for _ in range(2):
        prepared = steps.prepare(tenant, tenant.intent("CREATE_CRM_TASK"))
        crm_server.write_then(AfterWrite.DROP)
        _, failed = steps.invoke("CrmAdapterFunction", prepared)  # the answer is lost: in doubt
        assert failed
        stuck.append(prepared["action_intent_id"])
    ops.set_tenant_execution(tenant.tenant_id, False)
    other = Tenant(f"t-{uuid.uuid4().hex[:10]}", f"acct-{uuid.uuid4().hex[:8]}", ops)
    ops.configure_tenant(other.tenant_id, [other.account_id])
    behind = steps.prepare(other, other.intent())["action_intent_id"]  # its execution ended unrecorded

    looked_at: dict[str, list[str]] = {}
    for _ in range(60):  # the session's other leftovers are in the queue too; each run takes two
        for result in ops.reconcile(limit=2, older_than_seconds=0)["results"]:
            looked_at.setdefault(result["action_intent_id"], []).append(result["disposition"])
        if behind in looked_at:
            break

    assert looked_at.get(behind) == ["RECORDED"]
    assert [looked_at.get(intent_id) for intent_id in stuck] == [["IN_DOUBT"], ["IN_DOUBT"]]  # then deferred
    outcome = ops.outcome(other.tenant_id, other.account_id, behind)
    assert outcome is not None
    assert outcome.error_code is ErrorCode.EXECUTION_ENDED_UNRECORDED
    assert len(crm_server.tasks) == 2  # the stopped scope was not even looked up, nothing was written again
    for intent_id in stuck:
        attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent_id)
        assert attempt is not None
        assert (attempt.status, attempt.in_doubt) == (AttemptStatus.RUNNING, True)


def test_a_dry_run_says_what_it_would_record_and_records_nothing(
    tenant: Tenant, ops: Operations, runtime: LocalStack
) -> None:
    eventbridge.pause_status_events()
    runtime.function("ExecutionRecorderFunction").inject_fault("DataStoreError")
    runtime.function("ExecutionFailureRecorderFunction").inject_fault("DataStoreError")
    intent = tenant.intent()
    assert tenant.run(intent) == "FAILED"

    result = _swept(ops, intent.action_intent_id, dry_run=True)

    assert result == {
        "action_intent_id": intent.action_intent_id,
        "disposition": "WOULD_RECORD",
        "status": None,
    }
    assert ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id) is None


# ---------------------------------------------------------------- in doubt, settled without a person
def _in_doubt(tenant: Tenant, ops: Operations, crm: CrmTestServer, *, written: bool) -> str:
    """A CRM write no retry could confirm (the first answer lost, every later one a 503)."""
    intent = tenant.intent("CREATE_CRM_TASK")
    calls = iter(range(1_000))

    def later_calls_fail(method: str) -> None:
        first = method == "PATCH" and next(calls) == 0
        if (first and not written) or (method == "PATCH" and written and crm.upserts == 1):
            crm.fail_next(503, times=50)

    if written:
        crm.write_then(AfterWrite.DROP)  # the first upsert writes the task; its answer never comes back
    crm.on_request = later_calls_fail
    assert tenant.run(intent) == "FAILED"
    (execution,) = ops.executions_for(intent.action_intent_id)
    assert execution.error == "OutcomeInDoubt"
    return intent.action_intent_id


def test_a_write_that_turns_out_to_have_happened_is_recorded_by_the_finalizer(
    tenant: Tenant, ops: Operations, runtime: LocalStack, crm_server: CrmTestServer, tap: EventTap
) -> None:
    intent_id = _in_doubt(tenant, ops, crm_server, written=True)

    _settled(runtime)  # the finalizer heard the FAILED execution and asked the adapter to look it up

    _assert_succeeded_with_the_task(ops, runtime, tap, tenant, intent_id, crm_server)
    assert crm_server.requests > crm_server.upserts  # the lookup by external id happened


def test_a_write_that_never_happened_is_failed_once_nothing_can_still_land(
    tenant: Tenant, ops: Operations, runtime: LocalStack, crm_server: CrmTestServer, global_stop_off: None
) -> None:
    intent_id = _in_doubt(tenant, ops, crm_server, written=False)
    _settled(runtime)
    attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent_id)
    assert attempt is not None
    assert (attempt.status, attempt.in_doubt) == (AttemptStatus.RUNNING, True)  # too recent to call
    _age_reservation(ops, attempt.idempotency_key or "", minutes=10)

    ops.set_global_stop(True, reason="CRM incident")
    assert _swept(ops, intent_id)["disposition"] == "IN_DOUBT"  # a stop covers lookups too
    ops.set_global_stop(False)
    assert all(r["action_intent_id"] != intent_id for r in ops.reconcile(older_than_seconds=0)["results"])
    result = _swept(ops, intent_id, include_deferred=True)  # deferred, not forgotten

    assert result == {
        "action_intent_id": intent_id,
        "disposition": "RECORDED",
        "status": "FAILED",
    }
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent_id)
    assert outcome is not None
    assert (outcome.status, outcome.error_class) == (OutcomeStatus.FAILED, ErrorClass.DOWNSTREAM)
    assert crm_server.tasks == []
    assert ops.external_writes.get(attempt.idempotency_key or "") is None  # released: nothing was written


@pytest.fixture
def global_stop_off(ops: Operations) -> Iterator[None]:
    yield
    ops.set_global_stop(False)


def _swept(ops: Operations, intent_id: str, **options: Any) -> dict[str, Any]:
    """The sweeper's result for ``intent_id``: it runs (a page of 100 at a time) until it has looked at
    the attempt, as its schedule would; other tests' leftovers are in the same queue, ahead of it."""
    for _ in range(10):
        report = ops.reconcile(limit=100, older_than_seconds=0, **options)
        mine = [r for r in report["results"] if r["action_intent_id"] == intent_id]
        if mine:
            (result,) = mine
            return dict(result)
    raise AssertionError(f"the sweeper never reached {intent_id}")


def _age_reservation(ops: Operations, key: str, minutes: int) -> None:
    """The clock moves on (the test edits the record instead of waiting): the last attempt is long over."""
    then = (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ops.client("dynamodb").update_item(
        TableName=ops.outputs["ExternalWritesTableName"],
        Key={"pk": {"S": key}},
        UpdateExpression="SET created_at = :then",
        ExpressionAttributeValues={":then": {"S": then}},
    )


# ---------------------------------------------------------------- the outbox
def test_a_recorder_crash_right_after_its_commit_publishes_exactly_as_a_clean_run(
    tenant: Tenant, ops: Operations, runtime: LocalStack, tap: EventTap
) -> None:
    OBSERVER.plan("ExecutionRecorderFunction", 1, FaultKind.CRASH_AFTER)
    crashed = tenant.intent()
    clean = tenant.intent()

    assert tenant.run(crashed) == "SUCCEEDED"
    assert tenant.run(clean) == "SUCCEEDED"

    signals = SignalRepository(runtime.client("dynamodb"), runtime.physical_name("SignalsTable"))
    by_intent = {
        s.context["action_intent_id"]: s
        for s in signals.list_for_account(tenant.tenant_id, tenant.account_id, 10).items
    }
    for intent in (crashed, clean):
        events = tap.events_for(intent.action_intent_id)
        assert sorted(e["detail-type"] for e in events) == ["ACTION_EXECUTED", "SIGNAL_CREATED"]
        assert {e["detail"]["dedupe_key"] for e in events} == {by_intent[intent.action_intent_id].dedupe_key}


def test_a_batch_with_one_failing_record_reports_only_that_record(
    tenant: Tenant, runtime: LocalStack, steps: Any
) -> None:
    """Partial batch failures: the publisher names the record whose events were not accepted."""
    records = []
    for _ in range(2):
        prepared = steps.prepare(tenant, tenant.intent())
        steps.invoke("ExecutionRecorderFunction", {"prepared": prepared, "effect": steps.act(prepared)})
    runtime.wait_for_streams()
    stream = runtime.client("dynamodbstreams")
    arn = runtime.stream_pollers["OutcomePublisherStream"].mapping.stream_arn
    (shard,) = stream.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = stream.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )
    items = stream.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    records = [r for r in items if r["eventName"] == "INSERT"][-2:]
    batch = {"Records": [runtime.stream_pollers["OutcomePublisherStream"]._lambda_record(r) for r in records]}
    OBSERVER.plan("OutcomePublisherFunction", 2, FaultKind.TRANSIENT_BEFORE)

    payload, errored = runtime.function("OutcomePublisherFunction").invoke(batch)

    assert not errored
    second = records[1]["dynamodb"]["SequenceNumber"]
    assert '"batchItemFailures": [{"itemIdentifier": "' + second + '"}]' in payload


def test_a_record_that_can_never_be_published_is_dead_lettered_then_republished_by_execctl(
    tenant: Tenant,
    ops: Operations,
    runtime: LocalStack,
    tap: EventTap,
    local_state: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    publisher = runtime.function("OutcomePublisherFunction")
    poller = runtime.stream_pollers["OutcomePublisherStream"]
    before = poller.dead_lettered
    intent = tenant.intent()
    publisher.inject_fault("EventPublishError", times=1_000)
    try:
        assert tenant.run(intent) == "SUCCEEDED"
        _wait(lambda: poller.dead_lettered > before, timeout=60, what="the dead letter")
    finally:
        publisher.clear_faults()
    sqs = runtime.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=ops.outputs["PublisherDeadLetterQueueUrl"], MaxNumberOfMessages=10
    )
    infos = [json.loads(m["Body"])["DDBStreamBatchInfo"] for m in messages.get("Messages", [])]
    assert infos
    assert all(i["streamArn"] == poller.mapping.stream_arn for i in infos)
    assert tap.events_for(intent.action_intent_id) == []  # nothing went out

    router().divert = io.StringIO()
    try:
        code = execctl.main(["republish", tenant.tenant_id, tenant.account_id, intent.action_intent_id])
    finally:
        router().divert = None
    assert code == 0
    assert "SIGNAL_CREATED, ACTION_EXECUTED" in capsys.readouterr().out
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    events = tap.events_for(intent.action_intent_id)
    assert sorted(e["detail-type"] for e in events) == ["ACTION_EXECUTED", "SIGNAL_CREATED"]
    assert {e["detail"]["dedupe_key"] for e in events} == {outcome_signal(outcome).dedupe_key}


# ---------------------------------------------------------------- approvals are accounted for
def test_an_approval_the_rule_cannot_deliver_is_dead_lettered_and_redriven_to_success(
    tenant: Tenant, ops: Operations, runtime: LocalStack, local_state: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    intent = tenant.intent()
    machine = runtime.arn("ExecutionStateMachine")
    eventbridge.fail_deliveries(machine, times=9, code="ThrottlingException")  # the first try and 8 retries

    ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    eventbridge.wait_for_deliveries(60)

    assert ops.executions_for(intent.action_intent_id) == []
    mine = [d for d in ops.dead_letters() if d.action_intent_id == intent.action_intent_id]
    assert [d.error_code for d in mine] == ["ThrottlingException"]
    router().divert = io.StringIO()
    try:
        assert execctl.main(["dead-letters"]) == 0
        assert intent.action_intent_id in capsys.readouterr().out
        assert execctl.main(["dead-letters", "--redrive"]) == 0
    finally:
        router().divert = None
    assert f"redriven: {intent.action_intent_id}" in capsys.readouterr().out
    (execution,) = ops.wait_for_executions(intent.action_intent_id)
    assert execution.status == "SUCCEEDED"
    assert [d for d in ops.dead_letters() if d.action_intent_id == intent.action_intent_id] == []
