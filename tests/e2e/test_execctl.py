"""The operator CLI against the local runtime: each command changes what it says; bad input is an error
with exit code 2; every command has --help."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from execution_core.errors import ErrorCode
from execution_core.models.execution import AttemptStatus, ExecutionAttempt
from execution_core.services.identity import lease_id_for
from local_runtime import execctl
from local_runtime.operations import Operations
from local_runtime.output import router
from tests.e2e.conftest import Tenant
from tests.unit import factories

pytestmark = pytest.mark.emulator

COMMANDS = [
    "global-stop",
    "tenant-stop",
    "action-type",
    "approve",
    "status",
    "list",
    "ledger",
    "reconcile",
    "dead-letters",
    "stuck",
    "not-executed",
    "republish",
    "publish-registry",
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
        code, out, _ = _run(capsys, "global-stop", "on", "--reason", "incident 42")
        assert (code, out.strip()) == (0, "global stop is ON (incident 42)")
        switch = ops.tenants.get_global_kill_switch()
        assert switch.enabled is True
        assert switch.reason == "incident 42"
    finally:
        code, out, _ = _run(capsys, "global-stop", "off")
    assert (code, out.strip()) == (0, "global stop is OFF")
    assert ops.tenants.get_global_kill_switch().enabled is False


def test_tenant_stop_and_action_types(
    local_state: Path, tenant: Tenant, ops: Operations, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "tenant-stop", tenant.tenant_id, "on")[0] == 0
    config = ops.tenants.get_config(tenant.tenant_id)
    assert config is not None
    assert config.execution_enabled is False
    assert _run(capsys, "tenant-stop", tenant.tenant_id, "off")[0] == 0

    code, out, _ = _run(capsys, "action-type", "disable", tenant.tenant_id, "CREATE_CRM_TASK")
    assert code == 0
    assert "disabled now: CREATE_CRM_TASK" in out
    config = ops.tenants.get_config(tenant.tenant_id)
    assert config is not None
    assert config.disabled_action_types == ["CREATE_CRM_TASK"]
    code, out, _ = _run(capsys, "action-type", "enable", tenant.tenant_id, "CREATE_CRM_TASK")
    assert (code, "disabled now: none" in out) == (0, True)


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
        ["tenant-stop", "bad#tenant", "on"],
        ["tenant-stop", "t-1", "maybe"],
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
        ["action-type", "disable", "t-unknown", "CREATE_CRM_TASK"],
        ["action-type", "disable", "tenant-acme", "NO_SUCH_ACTION"],
        ["republish", "t-unknown", "a-unknown", "ai-unknown"],
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
    monkeypatch.setattr(execctl, "STATE_FILE", tmp_path / "missing.json")
    code, _, err = _run(capsys, "global-stop", "on")
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
