"""A deploy in the middle of an execution (ADR 0013), on the real state machine and the local runtime.

A Standard execution lives up to 30 minutes and invokes the functions' live aliases, so a deploy that lands
between two of its steps makes it finish on code it did not start on. Here the deploy is real as far as the
runtime goes: a new version is published and the live alias moved, while the execution waits for the retry
of its PerformAction step (the first attempt fails as a crashed Lambda would, before any effect). The next
contract (tests/fixtures/contract_v2) adds the optional field ``priority`` to PrepareExecution's output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from execctl.operations import Operations
from execution_core.models.adapters import InternalObjectKind
from execution_core.models.execution import AttemptStatus, ExternalSystem, OutcomeStatus
from execution_core.models.ledger import LedgerEventType
from execution_core.repositories.internal_objects import InternalObjectRepository
from local_runtime.emulator import LocalStack
from tests.e2e.conftest import Tenant
from tests.fixtures.contract_v2 import DEFAULT_PRIORITY, SEEN, V2_DIR, V2_PRIORITY

pytestmark = pytest.mark.emulator

V2_CODE = {
    "PrepareExecutionFunction": V2_DIR / "prepare_execution",
    "InternalAdapterFunction": V2_DIR / "internal_adapter",
    "ExecutionRecorderFunction": V2_DIR / "execution_recorder",
}


class Deployer:
    """Deploys code to the runtime's functions; remembers the template's code to roll back to."""

    def __init__(self, runtime: LocalStack) -> None:
        self.runtime = runtime
        self.original: dict[str, Path] = {}

    def deploy(self, code: dict[str, Path]) -> None:
        for logical_id, code_dir in code.items():
            self.original.setdefault(logical_id, self.runtime.function(logical_id).code_dir)
            self.runtime.publish_function_code(logical_id, code_dir)

    def roll_back(self) -> None:
        for logical_id, code_dir in self.original.items():
            if self.runtime.function(logical_id).code_dir != code_dir:
                self.runtime.publish_function_code(logical_id, code_dir)

    def live_version(self, logical_id: str) -> str:
        name = self.runtime.function(logical_id).function_name
        alias = self.runtime.client("lambda").get_alias(FunctionName=name, Name="live")
        return str(alias["FunctionVersion"])


@pytest.fixture
def deployer(runtime: LocalStack) -> Iterator[Deployer]:
    deployer = Deployer(runtime)
    SEEN.clear()
    try:
        yield deployer
    finally:
        runtime.function("InternalAdapterFunction").clear_faults()
        deployer.roll_back()
        SEEN.clear()


def _between_prepare_and_act(runtime: LocalStack, deploy: Callable[[], None]) -> None:
    """Fail PerformAction's first attempt (no effect made) and deploy while its retry waits."""
    runtime.function("InternalAdapterFunction").inject_fault("Sandbox.Timedout", on_fault=deploy)


def _assert_records_match_the_one_effect(
    ops: Operations, runtime: LocalStack, tenant: Tenant, intent_id: str
) -> None:
    """One note, and an outcome, attempt and ledger that all say it was made, once."""
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent_id)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.SUCCEEDED
    attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent_id)
    assert attempt is not None
    assert attempt.status is AttemptStatus.SUCCEEDED
    assert attempt.attempt_count == 1  # one lease: the retry belongs to the same attempt
    assert [e.event_type for e in ops.ledger_entries(tenant.tenant_id, intent_id)] == [
        LedgerEventType.EXECUTION_STARTED,
        LedgerEventType.ACTION_EXECUTED,
        LedgerEventType.SIGNAL,
    ]
    repository = InternalObjectRepository(
        runtime.client("dynamodb"), runtime.physical_name("InternalObjectsTable")
    )
    notes = repository.list_for_account(
        tenant.tenant_id, tenant.account_id, InternalObjectKind.NOTE, limit=10
    )
    assert len(notes.items) == 1
    (ref,) = outcome.external_object_refs
    assert (ref.system, ref.object_type) == (ExternalSystem.INTERNAL, InternalObjectKind.NOTE.value)
    assert ref.object_id == notes.items[0].object_id


def test_an_execution_started_on_the_old_contract_finishes_on_the_new_one(
    tenant: Tenant, ops: Operations, runtime: LocalStack, deployer: Deployer
) -> None:
    """PrepareExecution v1's output (no ``priority``) is in the execution's state; v2 acts and records."""
    before = {logical_id: deployer.live_version(logical_id) for logical_id in V2_CODE}
    _between_prepare_and_act(runtime, lambda: deployer.deploy(V2_CODE))
    intent = tenant.intent()

    assert tenant.run(intent) == "SUCCEEDED"

    # Prepare ran the old code only (v2 Prepare would have said so); the retried adapter and the recorder
    # ran the new version and read the old payload with the new field's default.
    assert dict(SEEN) == {
        "InternalAdapterFunction": [DEFAULT_PRIORITY],
        "ExecutionRecorderFunction": [DEFAULT_PRIORITY],
    }
    assert all(deployer.live_version(logical_id) != before[logical_id] for logical_id in V2_CODE)
    _assert_records_match_the_one_effect(ops, runtime, tenant, intent.action_intent_id)


def test_an_execution_started_on_the_new_contract_finishes_on_the_old_one_after_a_rollback(
    tenant: Tenant, ops: Operations, runtime: LocalStack, deployer: Deployer
) -> None:
    """v2 Prepare's output carries ``priority``; the deployed adapter and recorder, which do not know it,
    finish the execution (before ADR 0013 they refused it as a VALIDATION error and nothing was made)."""
    deployer.deploy(V2_CODE)
    _between_prepare_and_act(runtime, deployer.roll_back)
    intent = tenant.intent()

    assert tenant.run(intent) == "SUCCEEDED"

    # v2 Prepare ran; no v2 consumer did: the rollback came before PerformAction's retry.
    assert dict(SEEN) == {"PrepareExecutionFunction": [V2_PRIORITY]}
    assert all(runtime.function(lid).code_dir == deployer.original[lid] for lid in V2_CODE)
    _assert_records_match_the_one_effect(ops, runtime, tenant, intent.action_intent_id)


def test_an_execution_on_the_new_contract_reads_the_new_field(
    tenant: Tenant, ops: Operations, runtime: LocalStack, deployer: Deployer
) -> None:
    """The control: with every step on v2 the new field does travel from producer to consumers."""
    deployer.deploy(V2_CODE)
    intent = tenant.intent()

    assert tenant.run(intent) == "SUCCEEDED"

    assert dict(SEEN) == {
        "PrepareExecutionFunction": [V2_PRIORITY],
        "InternalAdapterFunction": [V2_PRIORITY],
        "ExecutionRecorderFunction": [V2_PRIORITY],
    }
    _assert_records_match_the_one_effect(ops, runtime, tenant, intent.action_intent_id)
