"""The operator CLI against the local runtime: each command changes what it says; bad input is an error
with exit code 2; every command has --help."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from execctl import cli as execctl
from execctl.operations import Operations
from execution_core.errors import ErrorCode, StateConflictError
from execution_core.models import ActionIntent
from execution_core.models.adapters import ConnectorType
from execution_core.models.execution import AttemptStatus, ExecutionAttempt
from execution_core.services.deterministic_ids import lease_id_for
from local_runtime.output import router
from local_runtime.schemas import SCHEMA_DIR, published_schemas, render
from tests.e2e.conftest import Tenant
from tests.support import factories

pytestmark = pytest.mark.emulator

COMMANDS = [
    "global-stop",
    "tenant-stop",
    "action-type",
    "audit",
    "intent",
    "approve",
    "status",
    "list",
    "ledger",
    "trace",
    "history",
    "reconcile",
    "dead-letters",
    "stuck",
    "not-executed",
    "republish",
    "publish-registry",
    "tenant",
    "crm-connect",
    "tail",
]


@pytest.fixture(autouse=True)
def quiet_functions(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Keep the functions' own log and metric lines out of what the CLI prints (as `make run` does).

    After capsys, so the router is reinstalled over capsys's stream: EMF lines are `print`ed to
    whatever sys.stdout is at the time, which must be the router for the divert to apply.
    """
    router().divert = io.StringIO()
    yield
    router().divert = None


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = execctl.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_global_stop_on_and_off(
    local_state: Path, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code, out, _ = _run(capsys, "global-stop", "on", "--reason", "incident 42", "--by", "ops-oncall")
        assert code == 0
        assert out.splitlines()[0] == "global stop: OFF -> ON"
        assert "by ops-oncall, reason: incident 42" in out
        switch = ops.tenants.get_global_kill_switch()
        assert (switch.enabled, switch.reason, switch.updated_by) == (True, "incident 42", "ops-oncall")
        code, out, _ = _run(capsys, "global-stop", "on", "--reason", "again")
        assert (code, out.strip()) == (0, "global stop is already ON; nothing changed")
        assert ops.ledger.list_switch_changes(1)[0].reason == "incident 42"  # the no-op is not recorded
    finally:
        code, out, _ = _run(capsys, "global-stop", "off", "--reason", "incident over")
    assert (code, out.splitlines()[0]) == (0, "global stop: ON -> OFF")
    assert ops.tenants.get_global_kill_switch().enabled is False


def test_tenant_stop_and_action_types(
    local_state: Path, tenant: Tenant, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "tenant-stop", tenant.tenant_id, "on", "--reason", "noisy tenant")
    assert (code, out.splitlines()[0]) == (0, f"tenant {tenant.tenant_id} stop: OFF -> ON")
    config = ops.tenants.get_config(tenant.tenant_id)
    assert config is not None
    assert config.execution_enabled is False
    assert _run(capsys, "tenant-stop", tenant.tenant_id, "off", "--reason", "quiet again")[0] == 0

    argv = ["action-type", "disable", tenant.tenant_id, "CREATE_CRM_TASK", "--reason", "CRM migration"]
    code, out, _ = _run(capsys, *argv)
    assert code == 0
    assert out.splitlines()[0] == f"tenant {tenant.tenant_id} CREATE_CRM_TASK: enabled -> disabled"
    assert f"disabled for {tenant.tenant_id} now: CREATE_CRM_TASK" in out
    config = ops.tenants.get_config(tenant.tenant_id)
    assert config is not None
    assert config.disabled_action_types == ["CREATE_CRM_TASK"]
    argv = ["action-type", "enable", tenant.tenant_id, "CREATE_CRM_TASK", "--reason", "done"]
    code, out, _ = _run(capsys, *argv)
    assert (code, f"disabled for {tenant.tenant_id} now: none" in out) == (0, True)
    config = ops.tenants.get_config(tenant.tenant_id)
    assert config is not None
    assert config.disabled_action_types == []


def test_every_switch_change_is_in_the_audit_trail_with_who_and_why(
    local_state: Path, tenant: Tenant, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    t = tenant.tenant_id
    changes = [
        ["tenant-stop", t, "on", "--reason", "runaway loop", "--by", "alice"],
        ["action-type", "disable", t, "CREATE_INTERNAL_TASK", "--reason", "bad template", "--by", "bob"],
        ["tenant-stop", t, "off", "--reason", "loop fixed"],  # who: the local user by default
        ["action-type", "enable", t, "CREATE_INTERNAL_TASK", "--reason", "template fixed", "--by", "bob"],
    ]
    for argv in changes:
        assert _run(capsys, *argv)[0] == 0

    code, out, _ = _run(capsys, "audit", "--json", "--limit", "100")
    assert code == 0
    mine = [c for c in json.loads(out) if c.get("tenant_id") == t]
    assert [
        (c["scope"], c.get("action_type"), c["stopped_before"], c["stopped_after"], c["reason"]) for c in mine
    ] == [  # newest first
        ("ACTION_TYPE", "CREATE_INTERNAL_TASK", True, False, "template fixed"),
        ("TENANT", None, True, False, "loop fixed"),
        ("ACTION_TYPE", "CREATE_INTERNAL_TASK", False, True, "bad template"),
        ("TENANT", None, False, True, "runaway loop"),
    ]
    assert [c["changed_by"] for c in mine][::2] == ["bob", "bob"]
    assert mine[1]["changed_by"].endswith("(local runtime)")
    assert mine[3]["changed_by"] == "alice"
    code, out, _ = _run(capsys, "audit", "--limit", "100")
    assert code == 0
    assert f"tenant {t} stop: OFF -> ON  by alice: runaway loop" in out
    assert f"tenant {t} CREATE_INTERNAL_TASK: disabled -> enabled  by bob: template fixed" in out


def test_a_kill_switch_command_needs_a_reason(
    local_state: Path, tenant: Tenant, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["tenant-stop", tenant.tenant_id, "on"], ["global-stop", "on", "--reason", " "]):
        with pytest.raises(SystemExit) as exited:
            execctl.main(argv)
        assert exited.value.code == 2
        assert "reason" in capsys.readouterr().err
    config = ops.tenants.get_config(tenant.tenant_id)
    assert config is not None
    assert config.execution_enabled is True


def test_approve_then_status_list_and_ledger(
    local_state: Path, tenant: Tenant, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    intent = tenant.intent()
    code, out, _ = _run(capsys, "approve", tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert code == 0
    assert intent.action_intent_id in out
    ops.wait_for_executions(intent.action_intent_id)

    code, out, _ = _run(capsys, "status", tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert code == 0
    assert json.loads(out)["status"] == "SUCCEEDED"
    code, out, _ = _run(capsys, "list", tenant.tenant_id, tenant.account_id, "--limit", "5")
    assert code == 0
    assert [e["action_intent_id"] for e in json.loads(out)] == [intent.action_intent_id]
    code, out, _ = _run(capsys, "ledger", tenant.tenant_id, intent.action_intent_id)
    assert code == 0
    assert [line.split()[1] for line in out.strip().splitlines()] == [
        "EXECUTION_STARTED",
        "ACTION_EXECUTED",
        "SIGNAL",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["tenant-stop", "bad#tenant", "on", "--reason", "r"],
        ["tenant-stop", "t-1", "maybe", "--reason", "r"],
        ["status", "t-1", "acct/../x", "ai-1"],
        ["list", "t-1", "a-1", "--limit", "0"],
        ["list", "t-1", "a-1", "--limit", "101"],
        ["list", "t-1", "a-1", "--limit", "abc"],
        ["approve", "t-1", "a-1"],
        ["reconcile", "--older-than", "-1"],
        ["reconcile", "--older-than", "soon"],
        ["stuck", "--minutes", "nan"],
        ["republish", "t-1", "a#1", "ai-1"],
        ["no-such-command"],
    ],
)
def test_bad_usage_exits_2(local_state: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        execctl.main(argv)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "t-unknown", "a-unknown", "ai-unknown"],
        ["ledger", "t-unknown", "ai-unknown"],
        ["action-type", "disable", "t-unknown", "CREATE_CRM_TASK", "--reason", "r"],
        ["action-type", "disable", "tenant-acme", "NO_SUCH_ACTION", "--reason", "r"],
        ["republish", "t-unknown", "a-unknown", "ai-unknown"],
        ["trace", "trace-unknown"],
    ],
)
def test_unknown_things_are_clear_errors(
    local_state: Path, ops: Operations, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_without_a_running_runtime_it_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXEC_LOCAL_STATE_DIR", str(tmp_path / "no-runtime"))
    code, _, err = _run(capsys, "global-stop", "on", "--reason", "r")
    assert code == 2
    assert "make up" in err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        execctl.main([command, "--help"])
    assert exited.value.code == 0
    assert f"usage: execctl {command}" in capsys.readouterr().out


def test_stuck_and_reconcile_find_and_record_an_attempt_nobody_finished(
    local_state: Path, tenant: Tenant, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    """An attempt held by an execution that no longer exists (its events lost): listed, then recorded."""
    intent = tenant.intent()
    machine = f"arn:aws:states:us-east-1:123456789012:execution:{ops.stack_name}-execution"
    holder = f"{machine}:gone-{intent.action_intent_id}"
    claim = ExecutionAttempt(
        action_intent_id=intent.action_intent_id,
        tenant_id=tenant.tenant_id,
        account_id=tenant.account_id,
        status=AttemptStatus.RUNNING,
        attempt_count=1,
        lease_id=lease_id_for(holder),
        lease_expires_at=int(time.time()) + 600,
        started_at=datetime.now(UTC) - timedelta(hours=1),
        updated_at=datetime.now(UTC) - timedelta(hours=1),
        trace_id=intent.trace_id,
        execution_arn=holder,
    )
    started = factories.ledger_entry(
        tenant_id=tenant.tenant_id,
        account_id=tenant.account_id,
        action_intent_id=intent.action_intent_id,
        event_type="EXECUTION_STARTED",
    )
    ops.attempts.acquire_lease(
        claim, started_entry=ops.ledger.ledger_put_item(started), holder_running=lambda _: True
    )

    code, out, _ = _run(capsys, "stuck", "--minutes", "30")
    assert code == 0
    assert f"{tenant.tenant_id}/{tenant.account_id}/{intent.action_intent_id}: RUNNING since" in out
    code, out, _ = _run(capsys, "reconcile", "--dry-run", "--older-than", "0", "--limit", "100")
    assert code == 0
    assert f"{intent.action_intent_id}: WOULD_RECORD" in out
    assert ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id) is None
    code, out, _ = _run(capsys, "reconcile", "--older-than", "0", "--limit", "100", "--all")
    assert code == 0
    assert f"{intent.action_intent_id}: RECORDED FAILED" in out
    outcome = ops.outcome(tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    assert outcome is not None
    assert outcome.error_code is ErrorCode.EXECUTION_ENDED_UNRECORDED
    code, out, _ = _run(capsys, "stuck", "--minutes", "30", "--json")
    assert intent.action_intent_id not in out


def test_dead_letters_when_there_are_none(
    local_state: Path, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    for letter in ops.dead_letters(hold_seconds=30):  # leftovers of other tests are dropped
        ops.client("sqs").delete_message(
            QueueUrl=ops.outputs["ApprovalDeadLetterQueueUrl"], ReceiptHandle=letter.receipt_handle
        )
    code, out, _ = _run(capsys, "dead-letters")
    assert (code, out.strip()) == (0, "no approvals in the dead-letter queue")


def test_not_executed_lists_approvals_of_unstored_intents(
    local_state: Path, tenant: Tenant, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    intent = tenant.intent(store=False)
    assert tenant.run(intent) == "FAILED"

    code, out, _ = _run(capsys, "not-executed", "--limit", "100")
    assert code == 0
    assert f"{tenant.tenant_id}/{tenant.account_id}/{intent.action_intent_id}  INTENT_NOT_FOUND" in out
    code, out, _ = _run(capsys, "not-executed", "--json", "--limit", "100")
    assert code == 0
    mine = [e for e in json.loads(out) if e["action_intent_id"] == intent.action_intent_id]
    assert [e["event_type"] for e in mine] == ["APPROVAL_NOT_EXECUTED"]


# ---------------------------------------------------------------- typos change nothing
def _world(ops: Operations) -> tuple[Any, ...]:
    """What a mistaken command could change: every switch and tenant item, and how many intents and
    ledger entries exist (both are append-only: a write would add one). No approval may be emitted
    either: the tests guard Operations.approve."""
    dynamodb = ops.client("dynamodb")

    def items(table: str) -> list[str]:
        pages = dynamodb.get_paginator("scan").paginate(TableName=ops.outputs[table], ConsistentRead=True)
        return sorted(json.dumps(item, sort_keys=True) for page in pages for item in page["Items"])

    def count(table: str) -> int:
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=ops.outputs[table], Select="COUNT", ConsistentRead=True
        )
        return sum(page["Count"] for page in pages)

    return items("TenantsTableName"), count("ActionIntentsTableName"), count("LedgerTableName")


@pytest.fixture
def no_approval(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused command must not emit ACTION_APPROVED (it would start an execution asynchronously)."""

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("ACTION_APPROVED was emitted")

    monkeypatch.setattr(Operations, "approve", refuse)


def _intent_file(tmp_path: Path, intent: ActionIntent, **changes: Any) -> Path:
    document = intent.model_dump(mode="json") | changes
    path = tmp_path / f"{document.get('action_intent_id', 'intent')}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


TYPO_CASES = {
    "tenant-stop on, tenant typo": lambda t, a, i: ["tenant-stop", t + "x", "on", "--reason", "r"],
    "tenant-stop off, tenant typo": lambda t, a, i: ["tenant-stop", t + "x", "off", "--reason", "r"],
    "action-type, tenant typo": lambda t, a, i: [
        "action-type",
        "disable",
        t + "x",
        "CREATE_CRM_TASK",
        "--reason",
        "r",
    ],
    "action-type, action type typo": lambda t, a, i: [
        "action-type",
        "disable",
        t,
        "CREATE_CRM_TSK",
        "--reason",
        "r",
    ],
    "action-type enable, action type typo": lambda t, a, i: [
        "action-type",
        "enable",
        t,
        "CREATE_CRM_TSK",
        "--reason",
        "r",
    ],
    "approve, tenant typo": lambda t, a, i: ["approve", t + "x", a, i],
    "approve, account typo": lambda t, a, i: ["approve", t, a + "x", i],
    "approve, intent typo": lambda t, a, i: ["approve", t, a, i + "x"],
    "status, tenant typo": lambda t, a, i: ["status", t + "x", a, i],
    "status, account typo": lambda t, a, i: ["status", t, a + "x", i],
    "status, intent typo": lambda t, a, i: ["status", t, a, i + "x"],
    "list, account typo": lambda t, a, i: ["list", t, a + "x"],
    "ledger, tenant typo": lambda t, a, i: ["ledger", t + "x", i],
    "ledger, intent typo": lambda t, a, i: ["ledger", t, i + "x"],
    "history, intent typo": lambda t, a, i: ["history", t, a, i + "x"],
    "history, account typo": lambda t, a, i: ["history", t, a + "x", i],
    "republish, account typo": lambda t, a, i: ["republish", t, a + "x", i],
    "republish, intent typo": lambda t, a, i: ["republish", t, a, i + "x"],
    "trace typo": lambda t, a, i: ["trace", "trace-" + i + "x"],
    "tenant show, tenant typo": lambda t, a, i: ["tenant", "show", t + "x"],
    "tenant add-account, tenant typo": lambda t, a, i: ["tenant", "add-account", t + "x", a],
    "tenant remove-account, tenant typo": lambda t, a, i: ["tenant", "remove-account", t + "x", a],
    "tenant remove-account, account typo": lambda t, a, i: ["tenant", "remove-account", t, a + "x"],
    "crm-connect, account typo": lambda t, a, i: [
        "crm-connect",
        t,
        a + "x",
        "--instance-url",
        "https://acme.my.salesforce.com",
    ],
    "tail, tenant typo": lambda t, a, i: ["tail", t + "x"],
}


@pytest.mark.parametrize("case", sorted(TYPO_CASES))
def test_a_typo_exits_2_says_what_exists_and_changes_nothing(
    case: str,
    local_state: Path,
    tenant: Tenant,
    ops: Operations,
    no_approval: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    intent = tenant.intent()
    argv = TYPO_CASES[case](tenant.tenant_id, tenant.account_id, intent.action_intent_id)
    before = _world(ops)

    code, out, err = _run(capsys, *argv)

    assert (code, out) == (2, "")
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    if "tenant typo" in case:
        assert f"did you mean {tenant.tenant_id!r}?" in err
    if "account typo" in case:
        assert f"did you mean {tenant.account_id!r}?" in err
    if "action type typo" in case:
        assert "did you mean 'CREATE_CRM_TASK'?" in err
    assert _world(ops) == before


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"tenant_id": "tenant-nobody"}, "unknown tenant 'tenant-nobody'"),
        ({"account_id": "acct-nobody"}, "unknown account 'acct-nobody' in tenant"),
        ({"action_type": "CREATE_NOTHING"}, "unknown action type 'CREATE_NOTHING'"),
        ({"registry_version": 99}, "has no registry version 99 (the latest is 1)"),
        ({"expires_at": "2020-01-01T00:00:00Z", "expires_at_epoch": 1577836800}, "expired"),
        ({"expires_at_epoch": 1}, "expires_at_epoch"),
        ({"action_intent_id": "ai#1"}, "action_intent_id"),
        ({"parameters": "not an object"}, "parameters"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_intent_put_refuses_an_intent_that_could_not_run(
    changes: dict[str, Any],
    says: str,
    local_state: Path,
    tenant: Tenant,
    ops: Operations,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    intent = tenant.intent(store=False)
    before = _world(ops)

    code, out, err = _run(capsys, "intent", "put", "--file", str(_intent_file(tmp_path, intent, **changes)))

    assert (code, out) == (2, "")
    assert says in err
    assert "Traceback" not in err
    assert _world(ops) == before


def test_intent_put_checks_the_file_itself(
    local_state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json", encoding="utf-8")
    for path, says in ((garbage, "is not JSON"), (tmp_path / "missing.json", "cannot read")):
        code, _, err = _run(capsys, "intent", "put", "--file", str(path))
        assert code == 2
        assert says in err


def test_intent_put_then_approve_runs_it_once(
    local_state: Path, tenant: Tenant, ops: Operations, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    intent = tenant.intent(store=False)
    path = _intent_file(tmp_path, intent)
    where = f"{tenant.tenant_id}/{tenant.account_id}/{intent.action_intent_id}"

    assert _run(capsys, "intent", "put", "--file", str(path))[:2] == (0, f"stored: {where}\n")
    assert ops.intents.get(tenant.tenant_id, tenant.account_id, intent.action_intent_id) == intent
    # The same file again is fine; another intent under the same id is refused, and the stored one stays.
    assert _run(capsys, "intent", "put", "--file", str(path))[:2] == (
        0,
        f"already stored (same content): {where}\n",
    )
    other = _intent_file(tmp_path, intent, approved_by="someone-else@example.com")
    code, _, err = _run(capsys, "intent", "put", "--file", str(other))
    assert (code, "never overwritten" in err) == (2, True)
    assert ops.intents.get(tenant.tenant_id, tenant.account_id, intent.action_intent_id) == intent

    argv = ["approve", tenant.tenant_id, tenant.account_id, intent.action_intent_id, "--wait", "--json"]
    code, out, _ = _run(capsys, *argv)
    assert code == 0
    assert json.loads(out)["status"]["status"] == "SUCCEEDED"
    assert [e.status for e in ops.executions_for(intent.action_intent_id)] == ["SUCCEEDED"]


def test_published_schemas_accept_what_intent_put_accepts(tmp_path: Path) -> None:
    """The sample intent of the README validates against the published JSON Schema, as against the model."""
    schemas = published_schemas()
    for name, schema in schemas.items():  # regenerate with `.venv/bin/python -m local_runtime.schemas`
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == render(schema), f"{name} is out of date"
    sample = json.loads(Path("local_runtime/samples/intent_note.json").read_text(encoding="utf-8"))
    jsonschema.validate(sample, schemas["action-intent.schema.json"])
    ActionIntent.model_validate(sample)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**sample, "tenant_id": "a#b"}, schemas["action-intent.schema.json"])
    approved = {"action_intent_id": "ai-1", "tenant_id": "tenant-acme", "account_id": "acct-acme-emea"}
    jsonschema.validate(approved, schemas["action-approved.schema.json"])


def test_trace_lists_the_decision_traces_entries(
    local_state: Path, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    intent = tenant.intent()
    assert tenant.run(intent) == "SUCCEEDED"

    code, out, _ = _run(capsys, "trace", intent.trace_id)
    assert code == 0
    where = f"{tenant.tenant_id}/{tenant.account_id}/{intent.action_intent_id}"
    assert [line.split()[1:] for line in out.strip().splitlines()] == [
        ["EXECUTION_STARTED", where],
        ["ACTION_EXECUTED", where],
        ["SIGNAL", where],
    ]
    code, out, _ = _run(capsys, "trace", intent.trace_id, "--json")
    assert {e["trace_id"] for e in json.loads(out)} == {intent.trace_id}


@pytest.fixture
def logged_state(local_state: Path, tmp_path: Path) -> Iterator[Path]:
    """The runtime's state naming a function log file, and the functions' lines going into it."""
    log = tmp_path / "functions.log"
    state = json.loads(local_state.read_text(encoding="utf-8"))
    local_state.write_text(json.dumps(state | {"function_log": str(log)}), encoding="utf-8")
    with log.open("w", encoding="utf-8", buffering=1) as sink:  # line-buffered, as the runtime writes it
        router().divert = sink
        try:
            yield log
        finally:
            router().divert = io.StringIO()


def test_history_tells_one_executions_story_in_order(
    logged_state: Path, tenant: Tenant, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    intent = tenant.intent()
    assert tenant.run(intent) == "SUCCEEDED"
    argv = ["history", tenant.tenant_id, tenant.account_id, intent.action_intent_id]

    code, out, _ = _run(capsys, *argv, "--json")

    assert code == 0
    timeline = json.loads(out)
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    states = [e["what"] for e in timeline if e["source"] == "state"]
    assert states[0] == "ExecutionStarted"
    assert [s for s in states if s.startswith("entered ")] == [
        "entered PrepareExecution",
        "entered PerformAction",
        "entered RecordOutcome",
    ]
    assert states[-1] == "ExecutionSucceeded"  # RecordOutcome ends the execution (three billed states)
    left = [e for e in timeline if e["what"].startswith("left ")]
    assert all(e["detail"]["duration_ms"] >= 0 for e in left)
    ledger = [e["what"] for e in timeline if e["source"] == "ledger"]
    assert ledger == ["EXECUTION_STARTED", "ACTION_EXECUTED", "SIGNAL"]
    functions = {e["detail"]["function"] for e in timeline if e["source"] == "log"}
    for logical_id in ("PrepareExecutionFunction", "InternalAdapterFunction", "ExecutionRecorderFunction"):
        assert any(name.endswith(logical_id) for name in functions), functions
    assert timeline[0]["source"] == "intent"

    code, out, _ = _run(capsys, *argv)
    assert code == 0
    assert "state  entered PrepareExecution" in out
    assert "ledger ACTION_EXECUTED" in out


def test_a_switch_changed_by_someone_else_meanwhile_is_refused_and_not_recorded(
    local_state: Path, tenant: Tenant, ops: Operations
) -> None:
    """The change is conditional on the state the operator saw: no audit record with the wrong "before"."""
    seen = ops.known_tenant(tenant.tenant_id)
    ops.set_tenant_execution(tenant.tenant_id, enabled=False, reason="someone else", by="carol")
    changes_before = ops.ledger.list_switch_changes(100)

    with pytest.raises(StateConflictError):
        ops.switches.set_tenant_stop(seen, True, by="dave", reason="late", now=datetime.now(UTC))
    with pytest.raises(StateConflictError):
        ops.switches.set_action_type_disabled(
            seen.model_copy(update={"disabled_action_types": ["CREATE_CRM_TASK"]}),
            "CREATE_CRM_TASK",
            False,
            by="dave",
            reason="not disabled at all",
            now=datetime.now(UTC),
        )

    assert ops.ledger.list_switch_changes(100) == changes_before
    config = ops.known_tenant(tenant.tenant_id)
    assert (config.execution_enabled, config.disabled_action_types) == (False, [])


def test_backfill_status_keys_puts_an_attempt_older_than_the_index_into_filtered_lists(
    local_state: Path, tenant: Tenant, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    """The upgrade step ADR 0010 names: an attempt written before AccountStatusIndex joins filtered lists."""
    legacy = factories.attempt(
        tenant_id=tenant.tenant_id,
        account_id=tenant.account_id,
        action_intent_id=factories.uid("ai-legacy"),
        status="FAILED",
        error_class="DOWNSTREAM",
        error_code="DOWNSTREAM_ERROR",
    )
    item = ops.attempts._item(legacy)
    del item["status_pk"]  # as written before the index existed
    ops.client("dynamodb").put_item(TableName=ops.attempts.table_name, Item=item)

    def failed() -> list[str]:
        page = ops.attempts.list_for_account(
            tenant.tenant_id, tenant.account_id, 100, status=AttemptStatus.FAILED
        )
        return [a.action_intent_id for a in page.items]

    assert legacy.action_intent_id not in failed()
    code, out, _ = _run(capsys, "backfill-status-keys")
    assert code == 0
    assert int(out.split()[0]) >= 1
    assert legacy.action_intent_id in failed()
    code, out, _ = _run(capsys, "backfill-status-keys")
    assert (code, out.split()[0]) == (0, "0")  # nothing left: safe to run again


def test_a_tenant_is_onboarded_and_its_accounts_added_and_removed(
    local_state: Path, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    t = f"t-{uuid.uuid4().hex[:10]}"
    code, out, _ = _run(capsys, "tenant", "create", t, "--account", "acct-b", "--account", "acct-a")
    assert (code, out.strip()) == (0, f"tenant {t} created with account(s) acct-a, acct-b; execution enabled")
    config = ops.tenants.get_config(t)
    assert config is not None
    assert (config.execution_enabled, config.account_ids) == (True, ["acct-a", "acct-b"])

    code, out, _ = _run(capsys, "tenant", "add-account", t, "acct-c")
    assert (code, out.strip()) == (0, f"account acct-c added to tenant {t}")
    code, out, _ = _run(capsys, "tenant", "add-account", t, "acct-c")
    assert (code, out.strip()) == (0, f"account acct-c already belongs to tenant {t}; nothing changed")
    code, out, _ = _run(capsys, "tenant", "remove-account", t, "acct-a", "--json")
    assert (code, json.loads(out)) == (0, {"tenant_id": t, "account_id": "acct-a", "changed": True})
    assert not ops.tenants.is_account_member(t, "acct-a")
    code, out, _ = _run(capsys, "tenant", "show", t)
    assert code == 0
    shown = json.loads(out)
    assert (shown["tenant_id"], shown["account_ids"], shown["execution_enabled"]) == (
        t,
        ["acct-b", "acct-c"],
        True,
    )

    # Onboarding again never resets a switch someone turned on meanwhile.
    assert _run(capsys, "tenant-stop", t, "on", "--reason", "incident")[0] == 0
    before = _world(ops)
    code, out, err = _run(capsys, "tenant", "create", t, "--account", "acct-z")
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"error: tenant {t} already exists; nothing was changed "
        "(`execctl tenant add-account` adds an account, `tenant-stop` changes its switch)"
    )
    assert _world(ops) == before
    stored = ops.tenants.get_config(t)
    assert stored is not None
    assert (stored.execution_enabled, stored.account_ids) == (False, ["acct-b", "acct-c"])


def test_tenant_create_needs_an_account_and_refuses_too_many(
    local_state: Path, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        execctl.main(["tenant", "create", "t-without-accounts"])
    assert info.value.code == 2
    assert "--account" in capsys.readouterr().err
    t = f"t-{uuid.uuid4().hex[:10]}"
    many = [arg for n in range(100) for arg in ("--account", f"acct-{n}")]
    code, out, err = _run(capsys, "tenant", "create", t, *many)
    assert (code, out) == (2, "")
    assert err.strip() == "error: invalid value for account_ids; nothing was changed"
    assert ops.tenants.get_config(t) is None


def test_tail_shows_a_tenants_newest_ledger_entries_across_its_accounts(
    local_state: Path, tenant: Tenant, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "tail", tenant.tenant_id)
    assert (code, out.strip()) == (0, f"no ledger entries for tenant {tenant.tenant_id}")
    first, second = tenant.intent(), tenant.intent("CREATE_INTERNAL_TASK")
    assert tenant.run(first) == "SUCCEEDED"
    assert tenant.run(second) == "SUCCEEDED"

    code, out, _ = _run(capsys, "tail", tenant.tenant_id, "--limit", "4")
    assert code == 0
    rows = [line.split() for line in out.strip().splitlines()]
    where = f"{tenant.account_id}/{second.action_intent_id}"
    assert [row[1:3] for row in rows] == [
        ["SIGNAL", where],
        ["ACTION_EXECUTED", where],
        ["EXECUTION_STARTED", where],
        ["SIGNAL", f"{tenant.account_id}/{first.action_intent_id}"],
    ]
    code, out, _ = _run(capsys, "tail", tenant.tenant_id, "--json")
    entries = json.loads(out)
    assert len(entries) == 6
    assert [e["occurred_at"] for e in entries] == sorted((e["occurred_at"] for e in entries), reverse=True)
    assert {e["action_intent_id"] for e in entries} == {first.action_intent_id, second.action_intent_id}


def test_crm_connect_reads_the_token_from_stdin_and_never_prints_it(
    local_state: Path,
    tenant: Tenant,
    ops: Operations,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = "tok-" + uuid.uuid4().hex
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    url = "https://acme.my.salesforce.com"
    code, out, err = _run(capsys, "crm-connect", tenant.tenant_id, tenant.account_id, "--instance-url", url)
    secret = ops.crm_secret_name(tenant.tenant_id, tenant.account_id)
    assert (code, out.strip()) == (
        0,
        f"CRM connected for {tenant.tenant_id}/{tenant.account_id} at {url}; token stored as {secret}",
    )
    assert token not in out + err
    stored = ops.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
    assert json.loads(stored) == {"access_token": token}
    connector = ops.connectors.get(tenant.tenant_id, tenant.account_id, ConnectorType.CRM)
    assert connector is not None
    assert (connector.instance_url, connector.secret_id) == (url, secret)


@pytest.mark.parametrize(
    ("url", "token", "says"),
    [
        (
            "http://acme.my.salesforce.com",
            "tok-1",
            "error: invalid value for instance_url; nothing was changed",
        ),
        ("https://acme.my.salesforce.com", "", "error: the access token must be 1 to 4096 characters"),
        (
            "https://acme.my.salesforce.com",
            "two words",
            "error: the access token must be 1 to 4096 characters",
        ),
    ],
)
def test_crm_connect_refuses_a_bad_url_or_token_and_changes_nothing(
    url: str,
    token: str,
    says: str,
    local_state: Path,
    tenant: Tenant,
    ops: Operations,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = ops.connectors.get(tenant.tenant_id, tenant.account_id, ConnectorType.CRM)
    secret = ops.crm_secret_name(tenant.tenant_id, tenant.account_id)
    stored = ops.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
    monkeypatch.setattr("sys.stdin", io.StringIO(token))
    code, out, err = _run(capsys, "crm-connect", tenant.tenant_id, tenant.account_id, "--instance-url", url)
    assert (code, out) == (2, "")
    assert err.startswith(says), err
    if token:
        assert token not in err  # a refused token is not echoed either
    assert ops.connectors.get(tenant.tenant_id, tenant.account_id, ConnectorType.CRM) == before
    assert ops.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"] == stored
