"""One served local runtime at a time: the state file's claim, publish, release and read (no emulator).

The CLI's refusals that need no runtime (a bad origin or port, a busy port) are here too; what needs real
runtimes (two at once, Ctrl-C, function logs) is in tests/e2e/test_local_runtime_cli.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from local_runtime import cli, runtime_state
from local_runtime.emulator import LocalStack
from local_runtime.runtime_state import CliError


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "local-runtime"
    monkeypatch.setenv(runtime_state.STATE_DIR_ENV, str(directory))
    return directory


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


@dataclass
class FakeStack:
    endpoint_url: str = "http://127.0.0.1:4566"
    region: str = "us-east-1"
    stack_name: str = "bel-local"
    _outputs: dict[str, str] = field(default_factory=lambda: {"UserPoolId": "pool-1"})

    def outputs(self) -> dict[str, str]:
        return self._outputs


def _stack() -> LocalStack:
    return cast(LocalStack, FakeStack())


def _write(path: Path, **state: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state), encoding="utf-8")


@pytest.fixture
def claimed(state_dir: Path) -> Iterator[runtime_state.RuntimeClaim]:
    claim = runtime_state.claim("exec-local up --serve")
    yield claim
    claim.release()


def test_the_state_directory_is_the_projects_unless_the_environment_says_otherwise(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from local_runtime import emulator, template

    # The CLI imports neither module before a command runs (Ctrl-C right after start is its own); the
    # copies it keeps must agree with them.
    assert template.PROJECT_ROOT == runtime_state.PROJECT_ROOT
    assert emulator.DEFAULT_STACK_NAME == cli.DEFAULT_STACK_NAME
    assert runtime_state.state_file() == state_dir / "state.json"
    assert runtime_state.function_log_file("api") == state_dir / "api.functions.log"
    monkeypatch.delenv(runtime_state.STATE_DIR_ENV)
    assert runtime_state.state_file() == template.PROJECT_ROOT / ".local-runtime" / "state.json"


def test_a_claim_is_a_starting_state_and_a_second_claim_refuses_naming_the_first(
    claimed: runtime_state.RuntimeClaim,
) -> None:
    state = json.loads(runtime_state.state_file().read_text(encoding="utf-8"))
    assert state == {
        "pid": os.getpid(),
        "command": "exec-local up --serve",
        "status": "starting",
        "started_at": claimed.started_at,
    }

    with pytest.raises(CliError) as refused:
        runtime_state.claim("exec-local api")

    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("a local runtime is already running (exec-local up --serve, ")
    assert f"pid {os.getpid()}" in message
    assert "use it, or stop it (Ctrl-C in its shell) first" in message
    with pytest.raises(CliError, match="is still starting"):
        runtime_state.read_state()


def test_publish_writes_the_whole_ready_state_and_a_refusal_names_its_endpoint(
    claimed: runtime_state.RuntimeClaim, state_dir: Path
) -> None:
    log = state_dir / "up.functions.log"

    claimed.publish(_stack(), api_url="http://127.0.0.1:8080", function_log=log)

    state = runtime_state.read_state()
    assert state == {
        "pid": os.getpid(),
        "command": "exec-local up --serve",
        "status": "ready",
        "started_at": claimed.started_at,
        "endpoint_url": "http://127.0.0.1:4566",
        "region": "us-east-1",
        "stack_name": "bel-local",
        "outputs": {"UserPoolId": "pool-1"},
        "api_url": "http://127.0.0.1:8080",
        "function_log": str(log.absolute()),
    }
    assert sorted(p.name for p in state_dir.iterdir()) == ["state.json"]  # no temporary file left
    with pytest.raises(CliError, match=r"since .*, endpoint http://127\.0\.0\.1:4566, API http://127"):
        runtime_state.claim("exec-local api")


def test_a_stale_state_file_is_replaced_by_the_next_claim(state_dir: Path, dead_pid: int) -> None:
    _write(runtime_state.state_file(), pid=dead_pid, command="exec-local api", status="ready")

    claim = runtime_state.claim("exec-local up --serve")

    assert json.loads(runtime_state.state_file().read_text(encoding="utf-8"))["pid"] == os.getpid()
    claim.release()
    assert not runtime_state.state_file().exists()


def test_reading_a_stale_state_file_says_so_and_removes_it(state_dir: Path, dead_pid: int) -> None:
    _write(runtime_state.state_file(), pid=dead_pid, command="exec-local up --serve", status="ready")

    with pytest.raises(CliError) as stale:
        runtime_state.read_state()

    assert f"pid {dead_pid}) has stopped; removed its stale state file" in str(stale.value)
    assert "no local runtime is running" in str(stale.value)
    assert not runtime_state.state_file().exists()


def test_without_a_runtime_reading_says_how_to_start_one(state_dir: Path) -> None:
    with pytest.raises(CliError, match=r"no local runtime is running: start one with `make up`"):
        runtime_state.read_state()


def test_release_never_deletes_another_runtimes_state(claimed: runtime_state.RuntimeClaim) -> None:
    other = os.getppid()  # alive: our parent
    _write(claimed.path, pid=other, command="exec-local api", status="ready")

    claimed.release()

    assert json.loads(claimed.path.read_text(encoding="utf-8"))["pid"] == other
    with pytest.raises(CliError, match="now belongs to another runtime"):
        claimed.publish(_stack())


def test_release_removes_only_its_own_claim_once(claimed: runtime_state.RuntimeClaim) -> None:
    claimed.release()
    assert not claimed.path.exists()
    again = runtime_state.claim("exec-local api")  # a new runtime's claim, after ours ended
    claimed.release()  # released already: leaves the new one alone
    assert claimed.path.exists()
    again.release()


def test_a_file_being_written_counts_as_a_runtime_starting(state_dir: Path) -> None:
    runtime_state.state_file().parent.mkdir(parents=True)
    runtime_state.state_file().write_text("", encoding="utf-8")  # claimed, not yet written

    with pytest.raises(CliError, match="is starting"):
        runtime_state.claim("exec-local up --serve")
    with pytest.raises(CliError, match="still starting"):
        runtime_state.read_state()


# ---------------------------------------------------------------- the CLI's refusals before any start
@pytest.mark.parametrize(
    "origin",
    [
        "localhost:5173",
        "ftp://localhost",
        "http://localhost:5173/",
        "http://localhost:5173/app",
        "http://localhost:99999",
        "http://LocalHost:5173",
        "*",
        "http://localhost:5173,",
        "http://user@localhost",
    ],
)
def test_a_bad_allowed_origin_is_a_usage_error(
    origin: str, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["api", "--allowed-origin", origin])

    assert exited.value.code == 2
    assert "is not a browser origin" in capsys.readouterr().err
    assert not runtime_state.state_file().exists()


def test_allowed_origins_are_repeatable_and_comma_separated() -> None:
    args = cli.build_parser().parse_args(
        [
            "api",
            "--allowed-origin",
            "http://localhost:5173",
            "--allowed-origin",
            "https://app.example.com,http://127.0.0.1:8080,http://[::1]:3000",
        ]
    )
    assert args.allowed_origin == [
        "http://localhost:5173",
        "https://app.example.com",
        "http://127.0.0.1:8080",
        "http://[::1]:3000",
    ]
    assert cli.build_parser().parse_args(["api"]).allowed_origin is None  # the template's default then


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_a_bad_port_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["api", "--port", port])
    assert exited.value.code == 2
    assert "port must be a number between 0 and 65535" in capsys.readouterr().err


def test_a_busy_port_is_one_line_and_leaves_a_running_runtimes_state_alone(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(runtime_state.state_file(), pid=os.getppid(), command="exec-local up --serve", status="ready")
    before = runtime_state.state_file().read_bytes()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        code = cli.main(["api", "--port", str(port)])

    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [err.rstrip("\n")]
    assert err.startswith(f"error: port {port} on 127.0.0.1 is in use")
    assert runtime_state.state_file().read_bytes() == before
