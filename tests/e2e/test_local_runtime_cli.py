"""`make run` is the product's front door: the CLI must start the runtime and list what it created."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from pycognito import aws_srp

from local_runtime import cli, runtime_state
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
    monkeypatch.setenv(runtime_state.STATE_DIR_ENV, str(tmp_path))

    code = main(["token", "--user", "ops@acme.example"])

    assert code == 2
    assert "no local runtime is running" in capsys.readouterr().err


def test_make_run_demo_executes_every_sample_as_expected(tmp_path: Path) -> None:
    """The product's demo: every sample intent ends as its sample expects, and says so."""
    result = subprocess.run(
        [sys.executable, "-m", "local_runtime", "run"],
        cwd=PROJECT_ROOT,
        env={**os.environ, runtime_state.STATE_DIR_ENV: str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The functions' own log and metric lines are in the run's log file, not among the demo's lines.
    assert f"Function logs (JSON) and metrics (EMF) go to {tmp_path / 'run.functions.log'}." in result.stdout
    assert '"execution prepared"' in (tmp_path / "run.functions.log").read_text(encoding="utf-8")
    assert _no_function_log_lines(result.stdout), result.stdout
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


# ---------------------------------------------------------------- served runtimes, as real processes
# Each `exec-local up --serve` / `api` below is its own process with its own state directory
# (EXEC_LOCAL_STATE_DIR); every wait is bounded; every process is stopped at the end.
EXEC_LOCAL = Path(sys.executable).with_name("exec-local")
START_TIMEOUT = 120.0
ALLOWED_ORIGIN = "http://localhost:5173"


@contextlib.contextmanager
def _children_get_the_default_sigint() -> Iterator[None]:
    """A shell starts background jobs with SIGINT ignored, which children inherit: give ours the default."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a Python handler is reset to SIG_DFL by exec
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _env(state_dir: Path) -> dict[str, str]:
    return {**os.environ, runtime_state.STATE_DIR_ENV: str(state_dir), "PYTHONUNBUFFERED": "1"}


def _exec_local(state_dir: Path, *argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own entry point
        [str(EXEC_LOCAL), *argv],
        cwd=PROJECT_ROOT,
        env=_env(state_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def _no_function_log_lines(text: str) -> bool:
    """Function log lines are JSON objects (Powertools), metric lines too (EMF)."""
    return not any(line.lstrip().startswith("{") or '"level"' in line for line in text.splitlines())


@dataclass
class Served:
    """One `exec-local` process; its stdout and stderr go to files, readable while it runs."""

    process: subprocess.Popen[bytes]
    state_dir: Path
    out_path: Path
    err_path: Path

    @classmethod
    def start(cls, state_dir: Path, *argv: str, name: str = "served") -> Served:
        state_dir.mkdir(parents=True, exist_ok=True)
        out_path, err_path = (state_dir.parent / f"{name}.{stream}" for stream in ("out", "err"))
        with (
            out_path.open("wb") as out,
            err_path.open("wb") as err,
            _children_get_the_default_sigint(),
        ):
            process = subprocess.Popen(  # noqa: S603 - our own entry point
                [str(EXEC_LOCAL), *argv], cwd=PROJECT_ROOT, env=_env(state_dir), stdout=out, stderr=err
            )
        return cls(process, state_dir, out_path, err_path)

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def state(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.state_file.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8")

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8")

    def wait_until(self, status: str, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        def reached() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"exited {self.process.returncode}: {self.stdout()}{self.stderr()}")
            state = self.state()
            return state is not None and state.get("status") == status and state["pid"] == self.process.pid

        _wait_for(reached, timeout, f"state {status!r}")
        state = self.state()
        assert state is not None
        return state

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise

    def cleanup(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop(signal.SIGTERM, timeout=30)


@pytest.fixture(scope="module")
def served_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`exec-local api` allowing one origin, with INFO function logs: shared by the tests below."""
    served = Served.start(
        tmp_path_factory.mktemp("api") / "state",
        "api",
        "--allowed-origin",
        ALLOWED_ORIGIN,
        "--log-level",
        "INFO",
    )
    try:
        served.wait_until("ready")
        yield served
    finally:
        served.cleanup()


def test_two_runtimes_started_at_once_the_second_refuses_and_ctrl_c_stops_the_first_starting(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "state"
    first, second = (Served.start(state_dir, "up", "--serve", name=name) for name in ("first", "second"))
    try:
        # Whichever claimed first runs; the other refuses at once, long before a runtime could be up.
        _wait_for(
            lambda: first.process.poll() is not None or second.process.poll() is not None, 30, "a refusal"
        )
        loser, winner = (first, second) if first.process.poll() is not None else (second, first)
        assert loser.process.wait(30) == 2
        err = loser.stderr()
        assert err.splitlines() == [err.rstrip("\n")], err
        assert err.startswith("error: a local runtime is already running (exec-local up --serve, ")
        assert f"pid {winner.process.pid}" in err
        assert "stop it (Ctrl-C in its shell) first" in err
        assert winner.state() is not None
        assert winner.wait_until("starting", timeout=5)["pid"] == winner.process.pid

        code = winner.stop(signal.SIGINT)  # Ctrl-C during start-up

        out, err = winner.stdout(), winner.stderr()
        assert code == cli.EXIT_INTERRUPTED, out + err
        assert err == "stopped (interrupted)\n", err
        assert "Traceback" not in out + err
        assert not winner.state_file.exists()
    finally:
        first.cleanup()
        second.cleanup()


def test_up_serve_logs_functions_to_its_file_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    import boto3

    served = Served.start(tmp_path / "state", "up", "--serve")
    try:
        state = served.wait_until("ready")
        log = served.state_dir / "up.functions.log"
        assert state["function_log"] == str(log)
        assert f"Function logs (JSON) and metrics (EMF) go to {log}." in served.stdout()
        lambda_client = boto3.client(
            "lambda",
            region_name=state["region"],
            endpoint_url=state["endpoint_url"],
            aws_access_key_id="local-runtime",
            aws_secret_access_key="local-runtime",
        )
        names = [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]]
        reconciler = next(name for name in names if "ReconcilerFunction" in name)
        response = lambda_client.invoke(
            FunctionName=reconciler, Payload=json.dumps({"sweep": {"dry_run": True, "older_than_seconds": 0}})
        )
        assert "FunctionError" not in response
        _wait_for(lambda: "sweep done" in log.read_text(encoding="utf-8"), 10, "the function's log line")

        code = served.stop(signal.SIGINT)  # Ctrl-C while serving

        out, err = served.stdout(), served.stderr()
        assert code == cli.EXIT_INTERRUPTED, out + err
        assert err == "stopped (interrupted)\n", err
        assert "Traceback" not in out + err
        assert _no_function_log_lines(out), out
        assert not served.state_file.exists()
        assert '"sweep done"' in log.read_text(encoding="utf-8")  # the log outlives the runtime
    finally:
        served.cleanup()


def test_a_second_runtime_refuses_naming_the_first_which_stays_reachable(served_api: Served) -> None:
    before = served_api.state_file.read_bytes()
    state = served_api.wait_until("ready")

    for argv in (("up", "--serve"), ("api", "--port", "0")):
        refused = _exec_local(served_api.state_dir, *argv, timeout=30)

        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stdout == ""
        assert refused.stderr.splitlines() == [
            f"error: a local runtime is already running (exec-local api, pid {served_api.process.pid}, "
            f"since {state['started_at']}, endpoint {state['endpoint_url']}, API {state['api_url']}): "
            "use it, or stop it (Ctrl-C in its shell) first"
        ]
    assert served_api.state_file.read_bytes() == before
    token = _exec_local(served_api.state_dir, "token", "--user", "ops@acme.example")
    assert token.returncode == 0, token.stderr
    assert token.stdout.count(".") == 2  # a JWT, from the first runtime's Cognito


def test_a_busy_port_is_one_line_before_any_start_and_leaves_the_state_alone(served_api: Served) -> None:
    before = served_api.state_file.read_bytes()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = _exec_local(served_api.state_dir, "api", "--port", str(port), timeout=30)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.rstrip("\n")]
    assert result.stderr.startswith(f"error: port {port} on 127.0.0.1 is in use")
    assert "Traceback" not in result.stdout + result.stderr
    assert served_api.state_file.read_bytes() == before
    assert served_api.process.poll() is None


def test_the_served_api_allows_the_origin_it_was_given(served_api: Served) -> None:
    api_url = served_api.wait_until("ready")["api_url"]
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}

    allowed = requests.options(
        f"{api_url}/accounts/acct-acme-emea/executions",
        headers={"Origin": ALLOWED_ORIGIN, **preflight},
        timeout=10,
    )
    default = requests.options(
        f"{api_url}/accounts/acct-acme-emea/executions",
        headers={"Origin": "http://localhost:3000", **preflight},
        timeout=10,
    )

    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert default.headers.get("Access-Control-Allow-Origin") != "http://localhost:3000"  # replaced
    assert f"Allowed origins (CORS): {ALLOWED_ORIGIN}" in served_api.stdout()


def test_the_served_apis_function_logs_go_to_its_file_not_its_output(served_api: Served) -> None:
    state = served_api.wait_until("ready")
    log = served_api.state_dir / "api.functions.log"
    token = _exec_local(served_api.state_dir, "token", "--user", "ops@acme.example").stdout.strip()

    reply = requests.get(
        f"{state['api_url']}/accounts/acct-globex-1/executions",  # not the user's: logged, refused
        headers={"Authorization": token, "Origin": ALLOWED_ORIGIN},
        timeout=10,
    )

    assert reply.status_code == 403
    assert state["function_log"] == str(log)
    _wait_for(lambda: '"access denied"' in log.read_text(encoding="utf-8"), 10, "the function's log line")
    out = served_api.stdout()
    assert out.count(f"Function logs (JSON) and metrics (EMF) go to {log}.") == 1
    assert _no_function_log_lines(out), out


@pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")  # inside pycognito
def test_the_served_api_hosts_the_console_and_a_demo_user_signs_in_with_srp(served_api: Served) -> None:
    api_url = served_api.wait_until("ready")["api_url"]
    page = requests.get(f"{api_url}/console/", timeout=10)
    config = requests.get(f"{api_url}/console/config.json", timeout=10).json()
    srp = aws_srp.AWSSRP(
        username="ops@acme.example",
        password="any",
        pool_id=config["user_pool_id"],
        client_id=config["client_id"],
        client=object(),
    )

    def idp(operation: str, body: dict[str, Any]) -> dict[str, Any]:
        target = f"AWSCognitoIdentityProviderService.{operation}"
        reply = requests.post(
            config["cognito_endpoint"], json=body, headers={"X-Amz-Target": target}, timeout=10
        )
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    challenge = idp(
        "InitiateAuth",
        {
            "AuthFlow": "USER_SRP_AUTH",
            "ClientId": config["client_id"],
            "AuthParameters": srp.get_auth_params(),
        },
    )
    answer = srp.process_challenge(challenge["ChallengeParameters"], {"USERNAME": "ops@acme.example"})
    signed_in = idp(
        "RespondToAuthChallenge",
        {"ChallengeName": "PASSWORD_VERIFIER", "ClientId": config["client_id"], "ChallengeResponses": answer},
    )

    assert page.status_code == 200
    assert config["api_base_url"] == api_url
    assert f"Operator console: {api_url}/console/" in served_api.stdout()
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    # Not NEW_PASSWORD_REQUIRED: the demo users are confirmed, the page gets its tokens.
    assert "IdToken" in signed_in["AuthenticationResult"], signed_in
