"""`make run` is the product's front door: the CLI must start the runtime and list what it created."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from local_runtime import cli
from local_runtime.cli import main
from local_runtime.demo import SAMPLE_INTENTS_PATH, run_demo
from local_runtime.emulator import LocalStack
from local_runtime.template import PROJECT_ROOT, load_raw_template


def test_up_creates_and_lists_every_template_resource() -> None:
    # A fresh process: the emulator's backends are process-global, as a user's `make run` would be.
    result = subprocess.run(
        [sys.executable, "-m", "local_runtime", "up"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    emulated = {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Events::EventBus", "AWS::Cognito::UserPool"}
    for logical_id, resource in load_raw_template()["Resources"].items():
        if resource["Type"] in emulated:
            assert f"  {logical_id} " in result.stdout, logical_id
    assert "Cognito issued an ID token for ops@acme.example" in result.stdout
    assert "Traceback" not in result.stderr


def test_token_without_a_running_runtime_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "STATE_FILE", tmp_path / "state.json")

    code = main(["token", "--user", "ops@acme.example"])

    assert code == 2
    assert "no local runtime is running" in capsys.readouterr().err


def test_make_run_demo_executes_every_sample_as_expected() -> None:
    """The product's demo: every sample intent ends as its sample expects, and says so."""
    result = subprocess.run(
        [sys.executable, "-m", "local_runtime", "run"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6/6 executions ended as expected." in result.stdout
    # Progress state by state, then every status read back through the local API with a real token.
    assert "states: PrepareExecution -> PerformAction -> RecordOutcome\n" in result.stdout
    assert result.stdout.count("/status -> 200 ") == 6
    assert "/status -> 200 CANCELLED" in result.stdout
    for line in (
        "internal note",
        "CRM rejects the credential",
        "action type switched off",
        "approval expired",
    ):
        assert line in result.stdout


def test_demo_exits_non_zero_when_a_sample_ends_otherwise(runtime: LocalStack, tmp_path: Path) -> None:
    document = json.loads(SAMPLE_INTENTS_PATH.read_text(encoding="utf-8"))
    note = next(s for s in document["samples"] if s["action_type"] == "CREATE_INTERNAL_NOTE")
    note["expect"] = {"execution": "FAILED", "outcome": "FAILED"}  # it will succeed
    document["samples"] = [note]
    samples = tmp_path / "intents.json"
    samples.write_text(json.dumps(document), encoding="utf-8")
    out = io.StringIO()

    assert run_demo(runtime, out, samples) == 1
    assert "NO: execution is SUCCEEDED, expected FAILED" in out.getvalue()
    assert "0/1 executions ended as expected." in out.getvalue()
