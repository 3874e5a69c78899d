"""Signals and outcome events (docs/architecture.md §4.6): one signal per outcome, events observed through an
EventBridge rule delivering to SQS, at-least-once publishing that always carries the same dedupe key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from execctl.operations import Operations
from execution_core.models.ledger import LedgerEventType
from execution_core.repositories.signals import SignalRepository
from local_runtime.crm_server import CrmTestServer
from local_runtime.emulator import LocalStack
from local_runtime.event_tap import EventTap
from tests.e2e.conftest import Steps, Tenant

pytestmark = pytest.mark.emulator


def _signals(runtime: LocalStack, tenant: Tenant) -> list[Any]:
    repository = SignalRepository(runtime.client("dynamodb"), runtime.physical_name("SignalsTable"))
    return repository.list_for_account(tenant.tenant_id, tenant.account_id, limit=100).items


def _signal_ledger_entries(ops: Operations, tenant: Tenant, intent_id: str) -> int:
    return [e.event_type for e in ops.ledger_entries(tenant.tenant_id, intent_id)].count(
        LedgerEventType.SIGNAL
    )


@pytest.mark.parametrize(
    ("crm_failure", "execution", "outcome_event"),
    [(None, "SUCCEEDED", "ACTION_EXECUTED"), (401, "FAILED", "ACTION_FAILED")],
)
def test_an_execution_produces_one_signal_and_its_events(
    tenant: Tenant,
    ops: Operations,
    runtime: LocalStack,
    crm_server: CrmTestServer,
    tap: EventTap,
    crm_failure: int | None,
    execution: str,
    outcome_event: str,
) -> None:
    if crm_failure:
        crm_server.fail_next(crm_failure)
    intent = tenant.intent("CREATE_CRM_TASK")

    assert tenant.run(intent) == execution

    (signal,) = _signals(runtime, tenant)
    assert signal.signal_type.value == outcome_event
    assert _signal_ledger_entries(ops, tenant, intent.action_intent_id) == 1
    events = tap.events_for(intent.action_intent_id)
    assert sorted(e["detail-type"] for e in events) == sorted(["SIGNAL_CREATED", outcome_event])
    assert {e["detail"]["dedupe_key"] for e in events} == {signal.dedupe_key}
    created = next(e for e in events if e["detail-type"] == "SIGNAL_CREATED")
    assert created["detail"]["signal"]["signalId"] == signal.signal_id  # camelCase, as stored
    outcome = next(e for e in events if e["detail-type"] == outcome_event)
    assert outcome["detail"]["status"] == ("SUCCEEDED" if execution == "SUCCEEDED" else "FAILED")


@pytest.fixture
def record_request(tenant: Tenant, steps: Steps) -> dict[str, Any]:
    """A prepared execution (real lease) and the effect its adapter made: the recorder's input."""
    prepared = steps.prepare(tenant, tenant.intent())
    return {"prepared": prepared, "effect": steps.act(prepared)}


def test_recorder_five_times_in_a_row_and_five_concurrently_records_one_signal_published_once(
    tenant: Tenant, ops: Operations, runtime: LocalStack, tap: EventTap, record_request: dict[str, Any]
) -> None:
    lam = runtime.client("lambda")
    name = runtime.physical_name("ExecutionRecorderFunction")

    def invoke(_: int) -> dict[str, Any]:
        # A transaction cancelled by a concurrent one is a retryable error Step Functions retries.
        for _attempt in range(5):
            response = lam.invoke(FunctionName=name, Payload=json.dumps(record_request))
            payload = json.loads(response["Payload"].read())
            if not response.get("FunctionError"):
                return dict(payload)
            assert payload["errorType"] == "DataStoreUnavailableError", payload
        raise AssertionError("still conflicting after 5 attempts")

    results = [invoke(i) for i in range(5)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        results += list(pool.map(invoke, range(5)))

    dispositions = [r["disposition"] for r in results]
    assert dispositions.count("RECORDED") == 1
    assert dispositions.count("ALREADY_RECORDED") == 9
    intent_id = record_request["prepared"]["action_intent_id"]
    (signal,) = _signals(runtime, tenant)
    assert _signal_ledger_entries(ops, tenant, intent_id) == 1
    events = tap.events_for(intent_id)
    # The outbox publishes the one committed outcome once; retried recorders write (and publish) nothing.
    assert sorted(e["detail-type"] for e in events) == ["ACTION_EXECUTED", "SIGNAL_CREATED"]
    assert {e["detail"]["dedupe_key"] for e in events} == {signal.dedupe_key}


@pytest.fixture
def clear_faults(runtime: LocalStack) -> Iterator[None]:
    yield
    for function in runtime.functions.values():
        function.clear_faults()


def test_a_recorder_that_dies_right_after_its_commit_loses_no_event(
    tenant: Tenant,
    ops: Operations,
    runtime: LocalStack,
    tap: EventTap,
    record_request: dict[str, Any],
    clear_faults: None,
) -> None:
    """The transaction is the recorder's only write: the outcome's stream record publishes its events."""
    runtime.function("ExecutionRecorderFunction").inject_fault("Runtime.ExitError", after_handler=True)
    lam = runtime.client("lambda")
    name = runtime.physical_name("ExecutionRecorderFunction")

    crashed = lam.invoke(FunctionName=name, Payload=json.dumps(record_request))
    assert crashed.get("FunctionError")
    intent_id = record_request["prepared"]["action_intent_id"]
    (signal,) = _signals(runtime, tenant)  # committed before the crash
    events = tap.events_for(intent_id)
    assert sorted(e["detail-type"] for e in events) == ["ACTION_EXECUTED", "SIGNAL_CREATED"]

    retried = lam.invoke(FunctionName=name, Payload=json.dumps(record_request))
    assert json.loads(retried["Payload"].read())["disposition"] == "ALREADY_RECORDED"
    assert tap.events_for(intent_id) == events  # nothing more
    assert {e["detail"]["dedupe_key"] for e in events} == {signal.dedupe_key}
    assert _signal_ledger_entries(ops, tenant, intent_id) == 1


def test_the_published_signal_is_the_stored_one(
    tenant: Tenant, runtime: LocalStack, tap: EventTap, record_request: dict[str, Any]
) -> None:
    """The outbox rebuilds the signal from the outcome: byte for byte what the recorder stored."""
    lam = runtime.client("lambda")
    lam.invoke(
        FunctionName=runtime.physical_name("ExecutionRecorderFunction"), Payload=json.dumps(record_request)
    )
    (stored,) = _signals(runtime, tenant)
    created = next(
        e
        for e in tap.events_for(record_request["prepared"]["action_intent_id"])
        if e["detail-type"] == "SIGNAL_CREATED"
    )
    assert created["detail"]["signal"] == stored.model_dump(mode="json")
