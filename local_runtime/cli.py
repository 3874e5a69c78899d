"""Command line of the local runtime (`exec-local`, or `python -m local_runtime`).

`up` starts the embedded emulator, deploys template.yaml into it, creates the demo users and lists what
it created; `up --serve` keeps it running and records where it listens so that `token` (and later
commands) can reach it from another shell.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from local_runtime import eventbridge
from local_runtime.api_server import LocalApiServer
from local_runtime.demo import run_demo
from local_runtime.emulator import DEFAULT_STACK_NAME, LocalEmulator, LocalStack
from local_runtime.identity import create_demo_user, id_token_for, load_demo_tenants
from local_runtime.operations import Operations
from local_runtime.output import router
from local_runtime.project import deploy_project, operations_for
from local_runtime.sample_world import seed_sample_world
from local_runtime.template import PROJECT_ROOT

STATE_FILE = PROJECT_ROOT / ".local-runtime" / "state.json"
FUNCTION_LOG = PROJECT_ROOT / ".local-runtime" / "functions.log"
EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


def start_runtime(
    stack_name: str = DEFAULT_STACK_NAME, log_level: str | None = None
) -> tuple[LocalEmulator, LocalStack]:
    """Start the emulator, deploy the project template and create the demo users."""
    emulator = LocalEmulator().start()
    stack = deploy_project(emulator, stack_name, log_level)
    outputs = stack.outputs()
    cognito = stack.client("cognito-idp")
    for tenant in load_demo_tenants():
        create_demo_user(cognito, outputs["UserPoolId"], tenant)
    return emulator, stack


def describe_stack(stack: LocalStack) -> str:
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


def _write_state(stack: LocalStack, api_url: str | None = None) -> None:
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "endpoint_url": stack.endpoint_url,
        "region": stack.region,
        "stack_name": stack.stack_name,
        "outputs": stack.outputs(),
    }
    if api_url:
        state["api_url"] = api_url
    STATE_FILE.write_text(json.dumps(state, indent=2), encoding="utf-8")


def _read_state() -> dict[str, Any]:
    if not STATE_FILE.exists():
        raise CliError("no local runtime is running: start one with `exec-local up --serve` (or `make up`)")
    return dict(json.loads(STATE_FILE.read_text(encoding="utf-8")))


def cmd_up(args: argparse.Namespace) -> int:
    emulator, stack = start_runtime(args.stack_name)
    try:
        print(describe_stack(stack))
        outputs = stack.outputs()
        tenant = load_demo_tenants()[0]
        token = id_token_for(
            stack.client("cognito-idp"), outputs["UserPoolId"], outputs["UserPoolClientId"], tenant.user_email
        )
        print(f"Cognito issued an ID token for {tenant.user_email} ({len(token)} bytes).")
        if not args.serve:
            return 0
        _write_state(stack)
        print(f"Serving; state in {STATE_FILE.relative_to(PROJECT_ROOT)}. Ctrl-C stops.", flush=True)
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        # Scheduled rules (the sweeper) fire at their rate, as EventBridge would fire them.
        threading.Thread(target=stack.schedules.run_forever, args=(stopped,), daemon=True).start()
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
        stopped.set()
        return 0
    finally:
        if args.serve:
            STATE_FILE.unlink(missing_ok=True)
        emulator.stop()


def _wait_until_stopped() -> None:
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()


def cmd_api(args: argparse.Namespace) -> int:
    """The `sam local start-api` equivalent: runtime + the template's REST API with the Cognito check."""
    emulator, stack = start_runtime(args.stack_name, args.log_level)
    server = None
    try:
        if args.demo:
            print("Running the sample intents first, so the API has executions to show ...", flush=True)
            run_demo(stack, sys.stdout)
        server = LocalApiServer(stack, port=args.port).start()
        _write_state(stack, server.url)
        api = server.api
        if api is None:  # start() sets it
            raise CliError("the local API did not start")
        print(f"\nLocal API ({api.logical_id}, stage {api.stage}) at {server.url}")
        for route in api.routes:
            auth = f"Cognito ({route.authorizer.name})" if route.authorizer else "none"
            print(f"  {route.method:<7} {route.resource}   auth: {auth}")
        user = load_demo_tenants()[0]
        example = f"{server.url}/accounts/{user.account_ids[0]}/executions?limit=5"
        print(
            "\nIn another shell, get a token and call it:\n"
            f"  TOKEN=$(.venv/bin/exec-local token --user {user.user_email})\n"
            f'  curl -H "Authorization: $TOKEN" "{example}"\n'
            f"Demo users: {', '.join(t.user_email for t in load_demo_tenants())}. Ctrl-C stops.",
            flush=True,
        )
        _wait_until_stopped()
        return 0
    finally:
        STATE_FILE.unlink(missing_ok=True)
        if server is not None:
            server.stop()
        emulator.stop()


def cmd_run(args: argparse.Namespace) -> int:
    emulator, stack = start_runtime(args.stack_name, args.log_level)
    try:
        print(f"Local runtime at {stack.endpoint_url}: {len(stack.created)} resources from template.yaml.")
        FUNCTION_LOG.parent.mkdir(parents=True, exist_ok=True)
        with FUNCTION_LOG.open("w", encoding="utf-8") as log:
            router().divert = log
            print(f"Function logs (JSON) and metrics (EMF) go to {FUNCTION_LOG.relative_to(PROJECT_ROOT)}.")
            try:
                return run_demo(stack, sys.stdout)
            finally:
                router().divert = None
    finally:
        emulator.stop()


def _served_operations() -> Operations:
    state = _read_state()

    def client(service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=state["region"],
            endpoint_url=state["endpoint_url"],
            aws_access_key_id="local-runtime",
            aws_secret_access_key="local-runtime",  # noqa: S106 - the emulator's fixed fake credentials
        )

    return Operations(client, state["outputs"], state["stack_name"])


def cmd_publish_registry(args: argparse.Namespace) -> int:
    results = _served_operations().publish_registry()
    for name, result in results.items():
        print(f"{name}: {result.value}")
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    """The `sam local invoke` equivalent: one function, one event, on a fresh embedded runtime."""
    event_path = Path(args.event)
    try:
        event = json.loads(event_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the event file {event_path}: {exc}") from None
    emulator, stack = start_runtime(args.stack_name, args.log_level)
    try:
        if args.function not in stack.functions:
            known = ", ".join(sorted(stack.functions))
            raise CliError(f"unknown function {args.function!r}; the template has: {known}")
        seed_sample_world(operations_for(stack))
        stack.wait_for_streams()  # the sample world's own records are published before the event runs
        response = stack.client("lambda").invoke(
            FunctionName=stack.physical_name(args.function), Payload=json.dumps(event).encode()
        )
        payload = json.loads(response["Payload"].read() or b"null")
        error = response.get("FunctionError")
        # What the invocation set off (the outbox publishing an outcome) logs before the result is printed.
        stack.wait_for_streams()
        eventbridge.wait_for_deliveries()
        print(f"--- {args.function} returned{' a function error' if error else ''}:")
        print(json.dumps(payload, indent=2))
        return 1 if error else 0
    finally:
        emulator.stop()


def cmd_token(args: argparse.Namespace) -> int:
    import boto3

    state = _read_state()
    cognito = boto3.client(
        "cognito-idp",
        region_name=state["region"],
        endpoint_url=state["endpoint_url"],
        aws_access_key_id="local-runtime",
        aws_secret_access_key="local-runtime",  # noqa: S106 - the emulator's fixed fake credentials
    )
    known = {t.user_email for t in load_demo_tenants()}
    if args.user not in known:
        raise CliError(f"unknown demo user {args.user!r}; known: {', '.join(sorted(known))}")
    outputs = state["outputs"]
    print(id_token_for(cognito, outputs["UserPoolId"], outputs["UserPoolClientId"], args.user))
    return 0


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
    api.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
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
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entrypoint()
