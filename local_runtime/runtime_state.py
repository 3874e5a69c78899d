"""One served local runtime at a time, and where it is: the state file of `exec-local up --serve` / `api`.

Everything a runtime holds (tables, executions, users, queues) lives in memory in its embedded emulator
and is gone when it stops. The state directory (``.local-runtime/``, or ``$EXEC_LOCAL_STATE_DIR``) holds
only the state file pointing at the running runtime and the function log files of the last runs.

A serving command claims the state file before its slow start (a second one refuses at once and says
where the first is), publishes the runtime's endpoint and outputs once it is ready, and releases the
file when it stops. A file whose process is gone is stale: it is replaced by the next claim and removed
by the next read. Claims, stale replacements and releases take a lock on the state directory, so two
commands starting at once cannot both win, and no command ever deletes another live runtime's file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execctl.operations import Operations
    from local_runtime.emulator import LocalStack

STATE_DIR_ENV = "EXEC_LOCAL_STATE_DIR"
# local_runtime.template.PROJECT_ROOT, without importing the template machinery (slow): the CLI imports
# this module first, so that Ctrl-C right after start is handled by its own code (a test checks both agree).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A file still empty this long after its creation was left by a claim that died half-way: stale.
_UNREADABLE_GRACE_SECONDS = 5.0


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


def state_dir() -> Path:
    """``PROJECT_ROOT/.local-runtime``, or ``$EXEC_LOCAL_STATE_DIR`` when set."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override).expanduser().absolute()
    return PROJECT_ROOT / ".local-runtime"


def state_file() -> Path:
    return state_dir() / "state.json"


def function_log_file(name: str) -> Path:
    """Where a command's functions log (``up``, ``api``, ``run``, ``bench``): one file each, per run."""
    return state_dir() / f"{name}.functions.log"


def pid_alive(pid: object) -> bool:
    """Whether ``pid`` names a live process (a zombie, exited but not yet reaped, is not)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        if stat.rpartition(")")[2].split()[0] in {"Z", "X"}:
            return False
    return True


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the state directory (flock on its descriptor: no extra file)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _load(path: Path) -> dict[str, Any] | None:
    """The file's JSON object; None when it is missing, still being written or not a state at all."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _age_seconds(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _describe(state: dict[str, Any]) -> str:
    """``exec-local up --serve, pid 1234, since …, endpoint …`` for messages."""
    parts = [str(state.get("command") or "exec-local"), f"pid {state.get('pid')}"]
    since = state.get("started_at")
    if state.get("status") == "ready":
        if since:
            parts.append(f"since {since}")
        if state.get("endpoint_url"):
            parts.append(f"endpoint {state['endpoint_url']}")
        if state.get("api_url"):
            parts.append(f"API {state['api_url']}")
    else:
        parts.append(f"starting since {since}" if since else "starting")
    return ", ".join(parts)


def _write_atomically(path: Path, state: dict[str, Any]) -> None:
    """Readers see the old content or the new, never a part: a temporary file, then os.replace."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # as the claim created it (mkstemp makes it private)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(state, out, indent=2)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass
class RuntimeClaim:
    """This process's claim on the state file, from `claim()` until `release()`."""

    path: Path
    command: str
    pid: int
    started_at: str
    released: bool = False

    def publish(
        self, stack: LocalStack, *, api_url: str | None = None, function_log: Path | None = None
    ) -> None:
        """The runtime is ready: where it listens, its stack's outputs, where its functions log."""
        state: dict[str, Any] = {
            "pid": self.pid,
            "command": self.command,
            "status": "ready",
            "started_at": self.started_at,
            "endpoint_url": stack.endpoint_url,
            "region": stack.region,
            "stack_name": stack.stack_name,
            "outputs": stack.outputs(),
            "api_url": api_url,
            "function_log": str(function_log.absolute()) if function_log is not None else None,
        }
        with _locked(self.path.parent):
            current = _load(self.path)
            if current is not None and current.get("pid") != self.pid and pid_alive(current.get("pid")):
                raise CliError(
                    f"the state file {self.path} now belongs to another runtime ({_describe(current)})"
                )
            _write_atomically(self.path, state)

    def release(self) -> None:
        """Remove the state file, only while it still holds this process's claim (never another's)."""
        if self.released:
            return
        self.released = True
        with contextlib.suppress(FileNotFoundError), _locked(self.path.parent):
            current = _load(self.path)
            if current is not None and current.get("pid") == self.pid:
                self.path.unlink(missing_ok=True)


def claim(command: str) -> RuntimeClaim:
    """Claim the state file for this process (status "starting"), or refuse: another runtime is running.

    ``command`` is what the user ran (``exec-local up --serve``); a refusal names it, with the other
    runtime's pid, start time and endpoint. A state file whose process is gone is replaced.
    """
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "state.json"
    pid = os.getpid()
    started_at = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
    record = {"pid": pid, "command": command, "status": "starting", "started_at": started_at}
    with _locked(directory):
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                existing = _load(path)
                if existing is not None and pid_alive(existing.get("pid")):
                    raise CliError(
                        f"a local runtime is already running ({_describe(existing)}): use it, "
                        "or stop it (Ctrl-C in its shell) first"
                    ) from None
                if existing is None and _age_seconds(path) < _UNREADABLE_GRACE_SECONDS:
                    raise CliError(
                        f"a local runtime is starting (its state file {path} is being written): "
                        "use it, or stop it (Ctrl-C in its shell) first"
                    ) from None
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out, indent=2)
                out.write("\n")
            return RuntimeClaim(path=path, command=command, pid=pid, started_at=started_at)
    raise CliError(f"cannot claim the state file {path}: it reappears as soon as it is removed")


def read_state() -> dict[str, Any]:
    """The running runtime's state; CliError when none runs, it is still starting, or its file is stale."""
    path = state_file()
    start_one = "start one with `make up` (or `make api`)"
    state = _load(path)
    if state is None:
        if not path.exists():
            raise CliError(f"no local runtime is running: {start_one}")
        if _age_seconds(path) < _UNREADABLE_GRACE_SECONDS:
            raise CliError("the local runtime is still starting: retry when it prints where it serves")
        _remove_stale(path, None)
        raise CliError(f"no local runtime is running (removed the unreadable state file {path}): {start_one}")
    if not pid_alive(state.get("pid")):
        _remove_stale(path, state.get("pid"))
        raise CliError(
            f"no local runtime is running: the last one ({state.get('command')}, pid {state.get('pid')}) "
            f"has stopped; removed its stale state file {path}. {start_one[0].upper()}{start_one[1:]}"
        )
    if state.get("status") != "ready":
        raise CliError(
            f"the local runtime ({_describe(state)}) is still starting: retry when it prints where it serves"
        )
    return state


def client_factory(state: Mapping[str, Any]) -> Callable[[str], Any]:
    """Clients of the running runtime's emulator, with its fixed fake credentials (boto3 on first use)."""

    def client(service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=state["region"],
            endpoint_url=state["endpoint_url"],
            aws_access_key_id="local-runtime",
            aws_secret_access_key="local-runtime",  # noqa: S106 - the emulator's fixed fake credentials
        )

    return client


def served_operations() -> Operations:
    """Operator actions against the running runtime (CliError when none runs: see ``read_state``)."""
    from execctl.operations import Operations

    state = read_state()
    return Operations(client_factory(state), state["outputs"], state["stack_name"])


def _remove_stale(path: Path, pid: object) -> None:
    """Remove the file if it still holds the dead ``pid`` (None: still unreadable), under the lock."""
    with contextlib.suppress(FileNotFoundError), _locked(path.parent):
        current = _load(path)
        if (current.get("pid") if current is not None else None) == pid and not pid_alive(pid):
            path.unlink(missing_ok=True)
