"""Command line of the local runtime (`exec-local`, or `python -m local_runtime`).

`up` starts the embedded emulator, deploys template.yaml into it, creates the demo users and lists what
it created; `up --serve` (and `api`) keep it running and record where it listens in the state file
(local_runtime.runtime_state), so that `token`, `publish-registry` and `execctl` can reach it from
another shell. One served runtime at a time: a second one refuses at once and says where the first is.

The functions' JSON log and EMF metric lines of `up --serve`, `api` and `run` go to a file per command
in the state directory (``.local-runtime/up.functions.log`` ...), never into what the command prints;
`invoke` prints its function's logs, which is what it is for.

Ctrl-C (or SIGTERM) at any point ends with one line and the emulator stopped and the state file
released; the heavy modules are imported only once a command runs, so that even an early Ctrl-C is
handled here.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from local_runtime import runtime_state
from local_runtime.runtime_state import CliError, RuntimeClaim

if TYPE_CHECKING:
    from local_runtime.emulator import LocalStack

__all__ = [
    "DEFAULT_ALLOWED_ORIGIN",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "CliError",
    "build_parser",
    "describe_stack",
    "main",
    "running_runtime",
]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM
DEFAULT_ALLOWED_ORIGIN = "http://localhost:3000"  # the template's AllowedOrigins default
LOOPBACK = "127.0.0.1"
# local_runtime.emulator.DEFAULT_STACK_NAME: parsing the arguments must not wait for the emulator's imports,
# so that a second runtime refuses at once (a test checks both agree).
DEFAULT_STACK_NAME = "bel-local"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ORIGIN = re.compile(rf"https?://(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?")


class _TerminatedError(BaseException):
    """SIGTERM arrived: stop as Ctrl-C does (BaseException, so no `except Exception` swallows it)."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _TerminatedError


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C / SIGTERM wait until the block is done (a claim, a clean-up); a second one does not wait."""
    if not _in_main_thread():  # signal handlers can only be set there
        yield
        return
    received: list[int] = []

    def later(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, later) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    if received:
        raise KeyboardInterrupt if received[0] == signal.SIGINT else _TerminatedError


@contextlib.contextmanager
def _cleaned_up() -> Iterator[contextlib.ExitStack]:
    """What is entered on the yielded stack is undone on any exit, Ctrl-C included, Ctrl-C deferred."""
    resources = contextlib.ExitStack()
    try:
        yield resources
    finally:
        with _signals_deferred():
            resources.close()


def _claim(resources: contextlib.ExitStack, command: str) -> RuntimeClaim:
    with _signals_deferred():  # claimed means released on exit: nothing may come between the two
        claim = runtime_state.claim(command)
        resources.callback(claim.release)
    return claim


def _shown(path: Path) -> str:
    """A path as the user can open it: relative to the project when inside it."""
    try:
        return str(path.relative_to(runtime_state.PROJECT_ROOT))
    except ValueError:
        return str(path)


def _function_logs(resources: contextlib.ExitStack, name: str) -> Path:
    """Divert the functions' log and metric lines to ``name``.functions.log, until the command ends."""
    from local_runtime.output import functions_logging_to

    return resources.enter_context(functions_logging_to(runtime_state.function_log_file(name)))


@contextlib.contextmanager
def running_runtime(
    stack_name: str = DEFAULT_STACK_NAME,
    log_level: str | None = None,
    parameters: Mapping[str, str] | None = None,
) -> Iterator[LocalStack]:
    """The emulator with the project template deployed and the demo users created; stopped on exit."""
    from local_runtime.demo_users import create_demo_user, load_demo_tenants
    from local_runtime.emulator import LocalEmulator
    from local_runtime.project import deploy_project

    emulator = LocalEmulator()
    try:
        emulator.start()
        stack = deploy_project(emulator, stack_name, log_level, parameters)
        outputs = stack.outputs()
        cognito = stack.client("cognito-idp")
        for tenant in load_demo_tenants():
            create_demo_user(cognito, outputs["UserPoolId"], tenant)
        yield stack
    finally:
        emulator.stop()


def describe_stack(stack: LocalStack) -> str:
    from local_runtime.demo_users import load_demo_tenants

    rows = [(r.logical_id, r.resource_type, r.physical_id) for r in stack.created.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"Local runtime at {stack.endpoint_url} (stack {stack.stack_name}, {stack.region})", ""]
    lines.append("Created:")
    lines += [f"  {a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows]
    if stack.skipped:
        lines.append("Not created locally:")
        lines += [f"  {logical_id}: {why}" for logical_id, why in sorted(stack.skipped.items())]
    if stack.adjustments:
        lines.append("Adjusted locally:")
        lines += [f"  {logical_id}: {why}" for logical_id, why in sorted(stack.adjustments.items())]
    lines.append("Demo users (tenant: user):")
    lines += [f"  {t.tenant_id}: {t.user_email}" for t in load_demo_tenants()]
    return "\n".join(lines)


def _serve_until_stopped() -> int:
    """Block until Ctrl-C (KeyboardInterrupt, exit 130) or SIGTERM (a normal stop, exit 0)."""
    try:
        threading.Event().wait()
    except _TerminatedError:
        print("stopped", file=sys.stderr)
    return 0


def _seed_for_operators(resources: contextlib.ExitStack, stack: LocalStack) -> None:
    """The registry, the demo tenants and a local CRM test server: what the README's execctl examples use."""
    from local_runtime.demo import seed_for_operators
    from local_runtime.project import operations_for

    crm = seed_for_operators(operations_for(stack))
    resources.callback(crm.stop)
    print(
        "Seeded: the registry (registry/action_types.json), the demo tenants "
        f"(local_runtime/samples/tenants.json) and a local CRM test server at {crm.base_url}.",
        flush=True,
    )


def _serving_lines(claim: RuntimeClaim, function_log: Path) -> str:
    return (
        f"Function logs (JSON) and metrics (EMF) go to {_shown(function_log)}.\n"
        f"Serving; state in {_shown(claim.path)} (one local runtime at a time). Ctrl-C stops."
    )


def cmd_up(args: argparse.Namespace) -> int:
    from local_runtime.demo_users import id_token_for, load_demo_tenants

    with _cleaned_up() as resources:
        claim = _claim(resources, "exec-local up --serve") if args.serve else None
        function_log = _function_logs(resources, "up") if args.serve else None
        stack = resources.enter_context(running_runtime(args.stack_name))
        print(describe_stack(stack))
        outputs = stack.outputs()
        tenant = load_demo_tenants()[0]
        token = id_token_for(
            stack.client("cognito-idp"), outputs["UserPoolId"], outputs["UserPoolClientId"], tenant.user_email
        )
        print(f"Cognito issued an ID token for {tenant.user_email} ({len(token)} bytes).")
        if claim is None or function_log is None:
            return 0
        _seed_for_operators(resources, stack)
        stopped = threading.Event()
        resources.callback(stopped.set)
        # Scheduled rules (the sweeper) fire at their rate, as EventBridge would fire them.
        threading.Thread(target=stack.schedules.run_forever, args=(stopped,), daemon=True).start()
        claim.publish(stack, function_log=function_log)
        print(_serving_lines(claim, function_log), flush=True)
        return _serve_until_stopped()


def _port_unavailable(port: int, exc: OSError) -> str:
    if exc.errno == errno.EACCES:
        return f"port {port} on {LOOPBACK} cannot be used (permission denied): choose another with --port"
    return (
        f"port {port} on {LOOPBACK} is in use (by another process, or another local runtime): "
        "choose another with --port (make api PORT=...), or stop what listens there"
    )


def _check_port_free(port: int) -> None:
    """Refuse a busy port before anything slow starts (0: a free one is chosen, nothing to check)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
        try:
            probe.bind((LOOPBACK, port))
        except OSError as exc:
            raise CliError(_port_unavailable(port, exc)) from None


def cmd_api(args: argparse.Namespace) -> int:
    """The `sam local start-api` equivalent: runtime + the template's REST API with the Cognito check."""
    origins = list(dict.fromkeys(args.allowed_origin or [DEFAULT_ALLOWED_ORIGIN]))
    _check_port_free(args.port)  # refused at once, before anything slow (and before the claim)
    with _cleaned_up() as resources:
        claim = _claim(resources, "exec-local api")
        from local_runtime.api_server import LocalApiServer
        from local_runtime.demo import run_demo
        from local_runtime.demo_users import load_demo_tenants

        function_log = _function_logs(resources, "api")
        stack = resources.enter_context(
            running_runtime(args.stack_name, args.log_level, {"AllowedOrigins": ",".join(origins)})
        )
        if args.demo:
            print("Running the sample intents first, so the API has executions to show ...", flush=True)
            run_demo(stack, sys.stdout)
        _seed_for_operators(resources, stack)
        try:
            server = LocalApiServer(stack, host=LOOPBACK, port=args.port).start()
        except OSError as exc:  # taken since the check above
            if exc.errno in {errno.EADDRINUSE, errno.EACCES}:
                raise CliError(_port_unavailable(args.port, exc)) from None
            raise
        resources.callback(server.stop)
        api = server.api
        if api is None:  # start() sets it
            raise CliError("the local API did not start")
        claim.publish(stack, api_url=server.url, function_log=function_log)
        print(f"\nLocal API ({api.logical_id}, stage {api.stage}) at {server.url}")
        for route in api.routes:
            auth = f"Cognito ({route.authorizer.name})" if route.authorizer else "none"
            print(f"  {route.method:<7} {route.resource}   auth: {auth}")
        print(f"Allowed origins (CORS): {', '.join(origins)}")
        print(
            f"Operator console: {server.url}/console/ (sign in as a demo user; the emulator's Cognito "
            "does not check passwords, any will do)"
        )
        user = load_demo_tenants()[0]
        example = f"{server.url}/accounts/{user.account_ids[0]}/executions?limit=5"
        print(
            "\nIn another shell, get a token and call it:\n"
            f"  TOKEN=$(.venv/bin/exec-local token --user {user.user_email})\n"
            f'  curl -H "Authorization: $TOKEN" "{example}"\n'
            f"Demo users: {', '.join(t.user_email for t in load_demo_tenants())}.\n"
            + _serving_lines(claim, function_log),
            flush=True,
        )
        return _serve_until_stopped()


def cmd_run(args: argparse.Namespace) -> int:
    from local_runtime.demo import run_demo

    with _cleaned_up() as resources:
        function_log = _function_logs(resources, "run")
        stack = resources.enter_context(running_runtime(args.stack_name, args.log_level))
        print(f"Local runtime at {stack.endpoint_url}: {len(stack.created)} resources from template.yaml.")
        print(f"Function logs (JSON) and metrics (EMF) go to {_shown(function_log)}.", flush=True)
        return run_demo(stack, sys.stdout)


def cmd_publish_registry(args: argparse.Namespace) -> int:
    results = runtime_state.served_operations().publish_registry()
    for name, result in results.items():
        print(f"{name}: {result.value}")
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    """The `sam local invoke` equivalent: one function, one event, on a fresh embedded runtime."""
    from execution_core.contracts import live_alias_arn
    from local_runtime import eventbridge
    from local_runtime.project import operations_for
    from local_runtime.sample_world import connect_sample_crm, seed_sample_world

    event_path = Path(args.event)
    try:
        event = json.loads(event_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the event file {event_path}: {exc}") from None
    with _cleaned_up() as resources:
        stack = resources.enter_context(running_runtime(args.stack_name, args.log_level))
        if args.function not in stack.functions:
            known = ", ".join(sorted(stack.functions))
            raise CliError(f"unknown function {args.function!r}; the template has: {known}")
        seed_sample_world(operations_for(stack))
        resources.callback(connect_sample_crm(operations_for(stack)).stop)  # the CRM adapter's samples
        stack.wait_for_streams()  # the sample world's own records are published before the event runs
        # Through the live alias, as every invoker in the template does (ADR 0013).
        response = stack.client("lambda").invoke(
            FunctionName=live_alias_arn(stack.arn(args.function)), Payload=json.dumps(event).encode()
        )
        payload = json.loads(response["Payload"].read() or b"null")
        error = response.get("FunctionError")
        # What the invocation set off (the outbox publishing an outcome) logs before the result is printed.
        stack.wait_for_streams()
        eventbridge.wait_for_deliveries()
        print(f"--- {args.function} returned{' a function error' if error else ''}:")
        print(json.dumps(payload, indent=2))
        return 1 if error else 0


def cmd_token(args: argparse.Namespace) -> int:
    from local_runtime.demo_users import id_token_for, load_demo_tenants

    state = runtime_state.read_state()
    cognito = runtime_state.client_factory(state)("cognito-idp")
    known = {t.user_email for t in load_demo_tenants()}
    if args.user not in known:
        raise CliError(f"unknown demo user {args.user!r}; known: {', '.join(sorted(known))}")
    outputs = state["outputs"]
    print(id_token_for(cognito, outputs["UserPoolId"], outputs["UserPoolClientId"], args.user))
    return 0


# ---------------------------------------------------------------- arguments
def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"port must be a number between 0 and 65535, not {value!r}")
    return int(value)


def _origins(value: str) -> list[str]:
    """One origin, or several comma separated: scheme http/https, a host, an optional port, no path."""
    origins = [item.strip() for item in value.split(",")]
    for origin in origins:
        match = _ORIGIN.fullmatch(origin)
        if match is None or (match["port"] is not None and not 0 < int(match["port"]) <= 65535):
            raise argparse.ArgumentTypeError(
                f"{origin!r} is not a browser origin: http:// or https://, a lower-case host and an "
                "optional port, no path (e.g. http://localhost:5173)"
            )
    return origins


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exec-local", description="Docker-free local runtime of the bounded execution layer."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the emulator, deploy template.yaml, list what was created")
    up.add_argument("--serve", action="store_true", help="keep running until interrupted")
    up.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="prefix of local resource names")
    up.set_defaults(func=cmd_up)
    run = commands.add_parser("run", help="the demo: sample intents through the real state machine")
    run.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="prefix of local resource names")
    run.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="function logs"
    )
    run.set_defaults(func=cmd_run)
    publish = commands.add_parser(
        "publish-registry", help="publish registry/action_types.json (needs `up --serve`)"
    )
    publish.set_defaults(func=cmd_publish_registry)
    invoke = commands.add_parser(
        "invoke", help="run one function's handler with an event file (the sam local invoke equivalent)"
    )
    invoke.add_argument(
        "function", help="the function's logical id in template.yaml, e.g. ExecutionRecorderFunction"
    )
    invoke.add_argument("event", help="path of a JSON event, e.g. events/execution_recorder_succeeded.json")
    invoke.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="prefix of local resource names")
    invoke.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="function logs"
    )
    invoke.set_defaults(func=cmd_invoke)
    api = commands.add_parser(
        "api", help="serve the status API locally with the Cognito check (sam local start-api equivalent)"
    )
    api.add_argument("--port", type=_port, default=0, help=f"port on {LOOPBACK} (default: a free one)")
    api.add_argument(
        "--allowed-origin",
        type=_origins,
        action="extend",
        metavar="ORIGIN",
        help=f"browser origin the API allows (CORS); repeatable or comma separated (default: "
        f"{DEFAULT_ALLOWED_ORIGIN})",
    )
    api.add_argument("--demo", action="store_true", help="run the sample intents first")
    api.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="prefix of local resource names")
    api.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="function logs"
    )
    api.set_defaults(func=cmd_api)
    token = commands.add_parser("token", help="print a Cognito ID token for a demo user (needs `up --serve`)")
    token.add_argument("--user", required=True, help="demo user e-mail, e.g. ops@acme.example")
    token.set_defaults(func=cmd_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if _in_main_thread() else None
    try:
        args = build_parser().parse_args(argv)  # bad usage exits 2 with argparse's message
        return int(args.func(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("stopped (interrupted)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _TerminatedError:
        print("stopped (terminated)", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        if _in_main_thread():
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _entrypoint() -> None:
    code = main()
    if code in {EXIT_INTERRUPTED, EXIT_TERMINATED}:
        # Stopped: do not wait for an invocation still running in a worker thread (the emulator it
        # talks to is gone), and let no second Ctrl-C print a traceback from the interpreter's exit.
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    _entrypoint()
