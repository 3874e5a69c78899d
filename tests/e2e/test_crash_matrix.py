"""The crash matrix (docs/architecture.md §6.2): a fault at every AWS call a clean run makes, four ways, then
Step Functions' own retries and one late duplicate approval, through the real ASL. Four scenarios: an internal
note, a CRM task, a CRM that refuses the credential, and a note whose action type is switched off.

Faults are injected through botocore's event system (local_runtime.sdk_events), so every client a handler
builds inherits them and no handler code knows: a transient error before the request is sent; a transient
error after it was answered (written, answer lost); a process crash before; a process crash after
(Runtime.ExitError, nothing more leaves the process). Every case ends either with records identical to a
clean run's, or terminal and consistent with the effect: SUCCEEDED with the effect's refs exactly when the
effect exists, never a second effect, no RUNNING attempt, and the execution's status matching the outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from execctl.operations import Operations
from execution_core.models.adapters import InternalObjectKind
from execution_core.models.execution import AttemptStatus, OutcomeStatus
from execution_core.models.ledger import LedgerEventType
from execution_core.repositories.internal_objects import InternalObjectRepository
from execution_core.repositories.signals import SignalRepository
from local_runtime import eventbridge
from local_runtime.crm_server import CrmTestServer
from local_runtime.emulator import LocalStack
from local_runtime.event_tap import EventTap
from local_runtime.sdk_events import OBSERVER, FaultKind
from tests.e2e.conftest import CRM_TOKEN, Tenant

pytestmark = pytest.mark.emulator

PREPARE = "PrepareExecutionFunction"
INTERNAL = "InternalAdapterFunction"
CRM = "CrmAdapterFunction"
RECORD = "ExecutionRecorderFunction"
RECORD_FAILURE = "ExecutionFailureRecorderFunction"
PUBLISH = "OutcomePublisherFunction"
RECONCILE = "ReconcilerFunction"
Call = tuple[str, str, str]  # (function, service, operation)


@dataclass(frozen=True)
class Scenario:
    name: str
    action_type: str
    wrong_token: bool
    calls: tuple[Call, ...]  # every SDK call a clean run makes, in order (checked below)
    action_type_disabled: bool = False  # the tenant's kill switch for the action type is on


_PREPARE_CALLS: tuple[Call, ...] = (
    (PREPARE, "dynamodb", "GetItem"),
    (PREPARE, "dynamodb", "TransactWriteItems"),
)
# The recorder's only write is its transaction; the outbox publishes from the outcome's stream record.
_RECORD_CALLS: tuple[Call, ...] = (
    (RECORD, "dynamodb", "TransactWriteItems"),
    (PUBLISH, "events", "PutEvents"),
)
SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "internal-note",
            "CREATE_INTERNAL_NOTE",
            False,
            (
                *_PREPARE_CALLS,
                (INTERNAL, "dynamodb", "TransactWriteItems"),
                (INTERNAL, "s3", "PutObject"),
                *_RECORD_CALLS,
            ),
        ),
        Scenario(
            "crm-task",
            "CREATE_CRM_TASK",
            False,
            (
                *_PREPARE_CALLS,
                (CRM, "dynamodb", "GetItem"),
                (CRM, "secretsmanager", "GetSecretValue"),
                (CRM, "dynamodb", "TransactWriteItems"),
                (CRM, "dynamodb", "UpdateItem"),
                (CRM, "s3", "PutObject"),
                *_RECORD_CALLS,
            ),
        ),
        Scenario(
            "crm-refuses-credentials",
            "CREATE_CRM_TASK",
            True,
            (
                *_PREPARE_CALLS,
                (CRM, "dynamodb", "GetItem"),
                (CRM, "secretsmanager", "GetSecretValue"),
                (CRM, "dynamodb", "TransactWriteItems"),
                (CRM, "dynamodb", "DeleteItem"),
                (RECORD_FAILURE, "dynamodb", "GetItem"),
                (RECORD_FAILURE, "dynamodb", "GetItem"),
                (RECORD_FAILURE, "dynamodb", "TransactWriteItems"),
                (PUBLISH, "events", "PutEvents"),
                # The execution ended FAILED: the finalizer looks, finds the outcome recorded, writes nothing.
                (RECONCILE, "dynamodb", "GetItem"),
            ),
        ),
        Scenario(
            "internal-note-switched-off",
            "CREATE_INTERNAL_NOTE",
            False,
            (
                *_PREPARE_CALLS,
                (INTERNAL, "dynamodb", "TransactWriteItems"),  # refused by the kill-switch check
                (RECORD_FAILURE, "dynamodb", "GetItem"),
                (RECORD_FAILURE, "dynamodb", "GetItem"),
                (RECORD_FAILURE, "dynamodb", "TransactWriteItems"),
                (PUBLISH, "events", "PutEvents"),
                (RECONCILE, "dynamodb", "GetItem"),
            ),
            action_type_disabled=True,
        ),
    )
}


def _cases() -> list[tuple[str, int, FaultKind]]:
    return [
        (name, index, kind)
        for name, scenario in SCENARIOS.items()
        for index in range(len(scenario.calls))
        for kind in FaultKind
    ]


def _per_function_index(scenario: Scenario, index: int) -> tuple[str, int]:
    """The global call index → (function, 1-based index of the call inside that function's invocation)."""
    function = scenario.calls[index][0]
    return function, sum(1 for call in scenario.calls[: index + 1] if call[0] == function)


@dataclass
class Matrix:
    ops: Operations
    runtime: LocalStack
    crm: CrmTestServer
    tap: EventTap

    def tenant(self, scenario: Scenario) -> Tenant:
        tenant_id, account_id = f"t-{uuid.uuid4().hex[:10]}", f"acct-{uuid.uuid4().hex[:8]}"
        self.ops.configure_tenant(tenant_id, [account_id])
        token = "wrong-" + uuid.uuid4().hex if scenario.wrong_token else CRM_TOKEN
        self.ops.connect_crm(tenant_id, account_id, self.crm.base_url, token)
        if scenario.action_type_disabled:
            self.ops.set_action_type_enabled(tenant_id, scenario.action_type, False)
        return Tenant(tenant_id, account_id, self.ops)

    def run(self, scenario: Scenario) -> tuple[Tenant, str, dict[str, Any], tuple[Call, ...]]:
        """Approve a new intent, let it finish, approve it once more (late), and summarize the records.

        Also returns the SDK calls the first execution's handlers made.
        """
        tenant = self.tenant(scenario)
        intent = tenant.intent(
            scenario.action_type, {"title": "Renewal call"} if "INTERNAL" in scenario.action_type else None
        )
        mark = OBSERVER.mark()
        self.ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
        self.ops.wait_for_executions(intent.action_intent_id, count=1)
        self.runtime.wait_for_streams()  # the outbox publishes after the commit
        eventbridge.wait_for_deliveries()  # and the finalizer hears of an execution that failed
        calls = tuple((c.function, c.service, c.operation) for c in OBSERVER.since(mark))
        self.ops.approve(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
        self.ops.wait_for_executions(intent.action_intent_id, count=2)
        return tenant, intent.action_intent_id, self.summary(tenant, intent.action_intent_id), calls

    def summary(self, tenant: Tenant, intent_id: str) -> dict[str, Any]:
        """The records of one intent with ids and times left out: equal for equal histories."""
        ops = self.ops
        executions = ops.executions_for(intent_id)
        first, late = sorted(executions, key=lambda e: self._started(e.execution_arn))
        attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent_id)
        outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent_id)
        signals = SignalRepository(
            self.runtime.client("dynamodb"), self.runtime.physical_name("SignalsTable")
        )
        stored_signals = signals.list_for_account(tenant.tenant_id, tenant.account_id, limit=10).items
        events = self.tap.events_for(intent_id)
        return {
            "execution": (first.status, first.error),
            "late_duplicate": (late.status, ops.states_entered(late.execution_arn)),
            "attempt": None
            if attempt is None
            else (attempt.status, attempt.attempt_count, attempt.error_code, attempt.in_doubt),
            "outcome": None
            if outcome is None
            else (
                outcome.status,
                outcome.error_class,
                outcome.error_code,
                [(r.system, r.object_type) for r in outcome.external_object_refs],
                outcome.raw_response_artifact_ref is not None,
            ),
            "ledger": sorted(e.event_type.value for e in ops.ledger_entries(tenant.tenant_id, intent_id)),
            "signals": sorted(s.signal_type.value for s in stored_signals),
            "effects": self._effects(tenant),
            "event_types": sorted({e["detail-type"] for e in events}),
            "dedupe_keys": len({e["detail"]["dedupe_key"] for e in events}),
        }

    def _started(self, execution_arn: str) -> str:
        sfn = self.runtime.client("stepfunctions")
        return str(sfn.describe_execution(executionArn=execution_arn)["startDate"].isoformat())

    def _effects(self, tenant: Tenant) -> list[Any]:
        objects = InternalObjectRepository(
            self.runtime.client("dynamodb"), self.runtime.physical_name("InternalObjectsTable")
        )
        internal = [
            (obj.kind.value, obj.object_id)
            for kind in InternalObjectKind
            for obj in objects.list_for_account(tenant.tenant_id, tenant.account_id, kind, limit=10).items
        ]
        return sorted(internal)


@pytest.fixture(scope="module")
def matrix(
    ops: Operations, runtime: LocalStack, crm_server: CrmTestServer, tap: EventTap
) -> Iterator[Matrix]:
    OBSERVER.clear()
    yield Matrix(ops, runtime, crm_server, tap)
    OBSERVER.clear()


@pytest.fixture(scope="module")
def clean(matrix: Matrix) -> dict[str, tuple[tuple[Call, ...], dict[str, Any]]]:
    """Each scenario run clean, after a warm-up run (cold starts and first-read caches behind us)."""
    results = {}
    for name, scenario in SCENARIOS.items():
        matrix.run(scenario)
        _, _, summary, calls = matrix.run(scenario)
        results[name] = (calls, _comparable(summary))
    return results


def _by_function(calls: tuple[Call, ...]) -> dict[str, list[tuple[str, str]]]:
    grouped: dict[str, list[tuple[str, str]]] = {}
    for function, service, operation in calls:
        grouped.setdefault(function, []).append((service, operation))
    return grouped


def _comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """Object ids differ between intents; their count and kind do not."""
    return {**summary, "effects": [kind for kind, _ in summary["effects"]]}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_clean_run_makes_exactly_the_calls_the_matrix_covers(
    clean: dict[str, tuple[tuple[Call, ...], dict[str, Any]]], name: str
) -> None:
    calls, summary = clean[name]
    # Per function, in order (the publisher and the finalizer run concurrently after the execution).
    assert _by_function(calls) == _by_function(SCENARIOS[name].calls)
    scenario = SCENARIOS[name]
    expected = "FAILED" if scenario.wrong_token or scenario.action_type_disabled else "SUCCEEDED"
    assert summary["execution"][0] == expected
    if scenario.action_type_disabled:  # the switch refused the effect: CANCELLED, nothing written
        assert (summary["outcome"][0], summary["effects"]) == (OutcomeStatus.CANCELLED, []), summary
    assert summary["late_duplicate"] == ("SUCCEEDED", ["PrepareExecution", "DuplicateIgnored"])


@pytest.mark.parametrize(("name", "index", "kind"), _cases(), ids=str)
def test_fault_at_every_call_ends_identical_or_terminal_and_consistent(
    matrix: Matrix,
    crm_server: CrmTestServer,
    clean: dict[str, tuple[tuple[Call, ...], dict[str, Any]]],
    name: str,
    index: int,
    kind: FaultKind,
) -> None:
    scenario = SCENARIOS[name]
    function, call = _per_function_index(scenario, index)
    fault = OBSERVER.plan(function, call, kind)
    crm_before = len(crm_server.tasks)

    tenant, intent_id, summary, _ = matrix.run(scenario)

    assert fault.fired, f"{function} never made call {call}"
    if _comparable(summary) == clean[name][1]:
        return
    went_in_doubt = _in_doubt(summary)
    if went_in_doubt:
        # A crash can lose the knowledge of whether a CRM request went out (its reservation committed,
        # the answer never arrived): the honest record is "in doubt". It must say so consistently, and
        # settle without a person as soon as the CRM can be asked.
        assert scenario.action_type == "CREATE_CRM_TASK", summary
        assert summary["outcome"] is None, summary
        summary = _settle_in_doubt(matrix, tenant, intent_id)
    _assert_terminal_and_consistent(
        matrix, tenant, intent_id, summary, crm_server, crm_before, went_in_doubt=went_in_doubt
    )


def _in_doubt(summary: dict[str, Any]) -> bool:
    attempt = summary["attempt"]
    return attempt is not None and attempt[0] is AttemptStatus.RUNNING and attempt[3] is True


def _settle_in_doubt(matrix: Matrix, tenant: Tenant, intent_id: str) -> dict[str, Any]:
    """The CRM answers again (the credential is fixed) and the last request is long over; the finalizer
    (here: a replayed status-change event) asks the adapter to look the write up, and records."""
    ops = matrix.ops
    ops.connect_crm(tenant.tenant_id, tenant.account_id, matrix.crm.base_url, CRM_TOKEN)
    attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent_id)
    assert attempt is not None
    assert attempt.execution_arn is not None
    ops.client("dynamodb").update_item(
        TableName=ops.outputs["ExternalWritesTableName"],
        Key={"pk": {"S": attempt.idempotency_key}},
        UpdateExpression="SET created_at = :then",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":then": {"S": "2020-01-01T00:00:00.000000Z"}},
    )
    sfn = matrix.runtime.client("stepfunctions")
    ended = {
        "detail-type": eventbridge.STATUS_CHANGE,
        "source": "aws.states",
        "detail": {
            "executionArn": attempt.execution_arn,
            "status": "FAILED",
            "input": sfn.describe_execution(executionArn=attempt.execution_arn)["input"],
        },
    }
    answer, failed = matrix.runtime.function("ReconcilerFunction").invoke(ended)
    assert not failed, answer
    assert '"RECORDED"' in answer, answer
    matrix.runtime.wait_for_streams()
    return matrix.summary(tenant, intent_id)


def _assert_terminal_and_consistent(
    matrix: Matrix,
    tenant: Tenant,
    intent_id: str,
    summary: dict[str, Any],
    crm: CrmTestServer,
    crm_before: int,
    *,
    went_in_doubt: bool = False,
) -> None:
    ops = matrix.ops
    attempt = ops.attempt(tenant.tenant_id, tenant.account_id, intent_id)
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent_id)
    assert attempt is not None, summary
    assert outcome is not None, summary
    assert attempt.status is not AttemptStatus.RUNNING, summary
    assert attempt.status.value == outcome.status.value, summary
    # The effect store and the outcome agree, and there is never a second effect.
    internal = summary["effects"]
    crm_tasks = crm.tasks_with(attempt.idempotency_key or "")
    assert len(internal) <= 1, summary
    assert len(crm_tasks) <= 1, summary
    assert len(crm.tasks) - crm_before == len(crm_tasks), "a task was written under another key"
    effect_ids = [object_id for _, object_id in internal] + [t.task_id for t in crm_tasks]
    if outcome.status is OutcomeStatus.SUCCEEDED:
        assert [r.object_id for r in outcome.external_object_refs] == effect_ids, summary
    else:
        assert effect_ids == [], summary
        assert outcome.external_object_refs == [], summary
    # One entry per kind, the outcome's own among them, one signal, every event with its dedupe key.
    ledger = summary["ledger"]
    assert len(ledger) == len(set(ledger)), summary
    assert LedgerEventType.SIGNAL.value in ledger, summary
    assert len(summary["signals"]) == 1, summary
    assert summary["dedupe_keys"] == 1, summary
    # The execution's AWS status says what was recorded; the late duplicate wrote nothing.
    status, error = summary["execution"]
    expected_error = {
        OutcomeStatus.SUCCEEDED: None,
        OutcomeStatus.FAILED: "ExecutionFailed",
        OutcomeStatus.CANCELLED: "ExecutionCancelled",
        OutcomeStatus.EXPIRED: "ExecutionExpired",
    }[outcome.status]
    assert (status == "SUCCEEDED") is (outcome.status is OutcomeStatus.SUCCEEDED), summary
    # An execution that ended in doubt keeps saying so; its outcome was settled after it ended.
    assert error == ("OutcomeInDoubt" if went_in_doubt else expected_error), summary
    assert summary["late_duplicate"] == ("SUCCEEDED", ["PrepareExecution", "DuplicateIgnored"]), summary


def test_every_function_of_the_pipeline_is_in_the_matrix(runtime: LocalStack) -> None:
    """A function added to the template without a place in the matrix fails here (only the status API,
    which writes nothing, is out of it)."""
    in_matrix = {call[0] for scenario in SCENARIOS.values() for call in scenario.calls}
    assert set(runtime.functions) - {"ExecutionStatusApiFunction"} == in_matrix
