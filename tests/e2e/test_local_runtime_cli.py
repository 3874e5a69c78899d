"""`make run` is the product's front door: the CLI must start the runtime and list what it created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from local_runtime import cli
from local_runtime.cli import main
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
