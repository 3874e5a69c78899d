"""The README's execctl walk-through, run verbatim against `make up` (exec-local up --serve)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from local_runtime.template import PROJECT_ROOT

pytestmark = pytest.mark.emulator
MARKER = "This walk-through runs verbatim"


def walkthrough() -> list[str]:
    """The commands of the README's bash block that follows MARKER, exactly as written."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index(MARKER) :].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def _wait_until_ready(state_file: Path, up: subprocess.Popen[str], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise AssertionError(f"exec-local up --serve ended with {up.returncode}")
        try:
            if json.loads(state_file.read_text(encoding="utf-8")).get("status") == "ready":
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"the local runtime was not ready in {timeout:.0f}s")


def test_the_walkthrough_covers_every_switch_and_the_new_commands() -> None:
    commands = {line.split("execctl ", 1)[1].split()[0] for line in walkthrough() if "execctl " in line}
    assert commands >= {"intent", "approve", "status", "history", "ledger", "trace", "list", "tenant-stop"}
    assert commands >= {"action-type", "global-stop", "audit", "stuck", "reconcile", "dead-letters"}
    assert commands >= {"tail", "tenant", "crm-connect"}


def test_the_readme_operator_walkthrough_runs_verbatim_against_make_up(tmp_path: Path) -> None:
    env = os.environ | {"EXEC_LOCAL_STATE_DIR": str(tmp_path), "SAM_CLI_TELEMETRY": "0"}
    up = subprocess.Popen(  # noqa: S603 - what `make up` runs
        [str(PROJECT_ROOT / ".venv" / "bin" / "exec-local"), "up", "--serve"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_ready(tmp_path / "state.json", up)
        script = "set -euo pipefail\n" + "\n".join(
            f"echo '$ {i}'\n{line}" for i, line in enumerate(walkthrough())
        )
        result = subprocess.run(  # noqa: S603 - the README's own commands
            ["/bin/bash", "-c", script],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}"
    assert "Traceback" not in out + result.stderr
    assert "stored: tenant-acme/acct-acme-emea/ai-readme-note-1" in out
    assert "status: SUCCEEDED" in out
    assert '"status": "SUCCEEDED"' in out  # execctl status
    assert "state  entered PerformAction" in out  # history
    assert "ledger ACTION_EXECUTED" in out
    assert "tenant tenant-acme stop: OFF -> ON" in out
    assert "tenant tenant-acme CREATE_CRM_TASK: enabled -> disabled" in out
    assert "global stop: ON -> OFF" in out
    assert "global stop: OFF -> ON  by " in out  # audit: who
    assert ": CRM incident" in out  # audit: why
    assert "published again for ai-readme-note-1" in out
    assert "ACTION_EXECUTED      acct-acme-emea/ai-readme-note-1 attempt 1" in out  # tail
    assert "tenant tenant-newco created with account(s) acct-newco-1; execution enabled" in out
    assert "account acct-newco-2 removed from tenant tenant-newco" in out
    assert '"account_ids": [\n    "acct-newco-1"\n  ]' in out  # tenant show
    assert "CRM connected for tenant-newco/acct-newco-1 at https://newco.my.salesforce.com" in out
    assert "example-token" not in out
