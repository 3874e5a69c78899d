"""Every Catch edge of the ASL is taken at least once, through the real state machine."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest

from execctl.operations import Operations
from execution_core.models.execution import OutcomeStatus
from local_runtime.emulator import LocalStack
from local_runtime.template import PROJECT_ROOT
from tests.e2e.conftest import Tenant

pytestmark = pytest.mark.emulator

ASL = json.loads((PROJECT_ROOT / "statemachine" / "execution.asl.json").read_text(encoding="utf-8"))
CATCH_EDGES = {
    (name, catch["Next"]) for name, state in ASL["States"].items() for catch in state.get("Catch", [])
}


def _transitions(runtime: LocalStack, execution_arn: str) -> set[tuple[str, str]]:
    """(state, next state entered) pairs from the execution history."""
    events = runtime.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    return set(itertools.pairwise(entered))


@pytest.fixture
def clear_faults(runtime: LocalStack) -> Iterator[None]:
    yield
    for function in runtime.functions.values():
        function.clear_faults()


def test_every_catch_edge_is_taken(
    tenant: Tenant, ops: Operations, runtime: LocalStack, clear_faults: None
) -> None:
    observed: set[tuple[str, str]] = set()

    def run(intent_id: str, count: int = 1) -> list[str]:
        ops.approve(tenant.tenant_id, tenant.account_id, intent_id)
        executions = ops.wait_for_executions(intent_id, count=count)
        for execution in executions:
            observed.update(_transitions(runtime, execution.execution_arn))
        return sorted(e.status for e in executions)

    # PrepareExecution -> RecordFailure: the intent is never stored.
    assert run(tenant.intent(store=False).action_intent_id) == ["FAILED"]
    # PrepareExecution -> DuplicateIgnored: the intent already finished.
    done = tenant.intent()
    assert run(done.action_intent_id) == ["SUCCEEDED"]
    assert run(done.action_intent_id, count=2) == ["SUCCEEDED", "SUCCEEDED"]
    # PerformAction -> RecordFailure: the adapter answers with a permanent error.
    runtime.function("InternalAdapterFunction").inject_fault("AuthError")
    assert run(tenant.intent().action_intent_id) == ["FAILED"]
    # RecordOutcome -> RecordFailure: the recorder fails permanently after the effect happened; the
    # failure path finds the effect and records what really happened.
    runtime.function("ExecutionRecorderFunction").inject_fault("DataStoreError")
    effect = tenant.intent()
    assert run(effect.action_intent_id) == ["SUCCEEDED"]
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, effect.action_intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert outcome.external_object_refs, "the outcome points at the object the adapter created"
    # RecordFailure -> FailureNotRecorded: recording the failure itself fails.
    runtime.function("ExecutionFailureRecorderFunction").inject_fault("DataStoreError")
    assert run(tenant.intent(store=False).action_intent_id) == ["FAILED"]

    assert observed >= CATCH_EDGES, CATCH_EDGES - observed


def test_transient_adapter_failure_is_retried_then_succeeds(
    tenant: Tenant, ops: Operations, runtime: LocalStack, clear_faults: None
) -> None:
    adapter = runtime.function("InternalAdapterFunction")
    adapter.inject_fault("DownstreamError")
    before = adapter.invocations
    intent = tenant.intent()

    assert tenant.run(intent) == "SUCCEEDED"
    assert adapter.invocations - before == 2


def test_recorder_crash_after_commit_is_retried_without_duplicates(
    tenant: Tenant, ops: Operations, runtime: LocalStack, clear_faults: None
) -> None:
    """The recorder commits, then its Lambda times out; Step Functions retries; nothing doubles."""
    runtime.function("ExecutionRecorderFunction").inject_fault("Sandbox.Timedout", after_handler=True)
    intent = tenant.intent()

    assert tenant.run(intent) == "SUCCEEDED"
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert [e.event_type.value for e in ops.ledger_entries(tenant.tenant_id, intent.action_intent_id)] == [
        "EXECUTION_STARTED",
        "ACTION_EXECUTED",
        "SIGNAL",
    ]
