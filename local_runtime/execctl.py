"""`execctl`: the operator CLI, against the local runtime (`make up`) or a deployed stack.

A deployed stack is found by name through CloudFormation's outputs, with the caller's own AWS
credentials; the local runtime through the state file `make up` writes. Every change goes through the
same repositories the functions use, so an operator can flip a kill switch without a deploy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import boto3
import pydantic
from botocore.exceptions import BotoCoreError, ClientError

from execution_core.errors import ExecutionError
from execution_core.models.common import Identifier
from local_runtime.cli import STATE_FILE, CliError
from local_runtime.operations import OperationFailedError, Operations

EXIT_USAGE = 2
_IDENTIFIER: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(Identifier)


def _identifier(kind: str) -> Callable[[str], str]:
    """argparse type: an id that is safe in keys (no '#', '/', spaces), else a usage error."""

    def parse(value: str) -> str:
        try:
            return _IDENTIFIER.validate_python(value)
        except pydantic.ValidationError:
            raise argparse.ArgumentTypeError(
                f"{kind} {value!r} is not a valid id (letters, digits, . _ : @ -; at most 128)"
            ) from None

    parse.__name__ = kind
    return parse


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise argparse.ArgumentTypeError(f"limit must be a number between 1 and 100, not {value!r}")
    return int(value)


def _minutes(value: str) -> float:
    try:
        minutes = float(value)
    except ValueError:
        minutes = -1.0
    if not 0 <= minutes <= 1440:
        raise argparse.ArgumentTypeError(f"minutes must be a number between 0 and 1440, not {value!r}")
    return minutes


def _operations(args: argparse.Namespace) -> Operations:
    if args.stack:
        return _deployed(args.stack, args.region)
    if not STATE_FILE.exists():
        raise CliError("no local runtime is running: start one with `make up`, or pass --stack NAME")
    state = json.loads(STATE_FILE.read_text(encoding="utf-8"))

    def client(service: str) -> Any:
        return boto3.client(
            service,
            region_name=state["region"],
            endpoint_url=state["endpoint_url"],
            aws_access_key_id="local-runtime",
            aws_secret_access_key="local-runtime",  # noqa: S106 - the emulator's fixed fake credentials
        )

    return Operations(client, state["outputs"], state["stack_name"])


def _deployed(stack_name: str, region: str | None) -> Operations:
    session = boto3.session.Session(region_name=region)
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read stack {stack_name!r}: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return Operations(session.client, outputs, stack_name)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


# ---------------------------------------------------------------- commands
def cmd_global_stop(ops: Operations, args: argparse.Namespace) -> None:
    ops.set_global_stop(args.state == "on", reason=args.reason, by=args.by)
    print(f"global stop is {args.state.upper()}" + (f" ({args.reason})" if args.reason else ""))


def cmd_tenant_stop(ops: Operations, args: argparse.Namespace) -> None:
    ops.set_tenant_execution(args.tenant, enabled=args.state == "off")
    print(f"tenant {args.tenant}: execution {'stopped' if args.state == 'on' else 'enabled'}")


def cmd_action_type(ops: Operations, args: argparse.Namespace) -> None:
    try:
        disabled = ops.set_action_type_enabled(args.tenant, args.action_type, args.state == "enable")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    now_disabled = ", ".join(disabled) or "none"
    print(f"tenant {args.tenant}: {args.action_type} {args.state}d; disabled now: {now_disabled}")


def cmd_approve(ops: Operations, args: argparse.Namespace) -> None:
    event_id = ops.approve(args.tenant, args.account, args.intent)
    print(f"ACTION_APPROVED sent for {args.intent} (event {event_id})")


def cmd_status(ops: Operations, args: argparse.Namespace) -> None:
    status = ops.status(args.tenant, args.account, args.intent)
    if status is None:
        raise CliError(f"no execution, attempt or intent {args.intent} for {args.tenant}/{args.account}")
    _print(status.model_dump(mode="json", exclude_none=True))


def cmd_list(ops: Operations, args: argparse.Namespace) -> None:
    executions = ops.list_executions(args.tenant, args.account, args.limit)
    _print([e.model_dump(mode="json", exclude_none=True) for e in executions])


def cmd_ledger(ops: Operations, args: argparse.Namespace) -> None:
    entries = ops.ledger_entries(args.tenant, args.intent)
    if not entries:
        raise CliError(f"no ledger entries for {args.intent} of tenant {args.tenant}")
    for entry in entries:
        details = " ".join(f"{k}={v}" for k, v in sorted(entry.details.items()))
        when, kind = entry.occurred_at.isoformat(), entry.event_type.value
        print(f"{when}  {kind:<20} attempt {entry.attempt_count}  {details}")


def cmd_reconcile(ops: Operations, args: argparse.Namespace) -> None:
    report = ops.reconcile(
        dry_run=args.dry_run,
        limit=args.limit,
        older_than_seconds=int(args.older_than * 60),
        include_deferred=args.all,
    )
    if args.json:
        _print(report)
        return
    verb = "would record" if args.dry_run else "recorded"
    counted = report["would_record"] if args.dry_run else report["recorded"]
    print(
        f"checked {report['checked']} running attempt(s): {verb} {counted}, "
        f"{report['still_running']} still running, {report['in_doubt']} in doubt, {report['error']} failed"
        + (" (time was up: the rest is left for the next run)" if report["left_for_next_run"] else "")
    )
    for result in report["results"]:
        print(f"  {result['action_intent_id']}: {result['disposition']} {result['status'] or ''}".rstrip())


def cmd_dead_letters(ops: Operations, args: argparse.Namespace) -> None:
    letters = ops.dead_letters(hold_seconds=60 if args.redrive else 0)
    if args.json and not args.redrive:
        _print([{"message_id": d.message_id, "event": d.event, "error_code": d.error_code} for d in letters])
        return
    if not letters:
        print("no approvals in the dead-letter queue")
        return
    for letter in letters:
        if args.redrive:
            event_id = ops.redrive(letter)
            print(f"redriven: {letter.action_intent_id} (new event {event_id})")
        else:
            print(
                f"{letter.action_intent_id}: {letter.error_code or '-'} {letter.error_message or ''}".rstrip()
            )
    if not args.redrive:
        print(f"{len(letters)} approval(s) dead-lettered; `execctl dead-letters --redrive` sends them again")


def cmd_stuck(ops: Operations, args: argparse.Namespace) -> None:
    attempts = ops.stuck(args.minutes)
    if args.json:
        _print([a.model_dump(mode="json", exclude_none=True) for a in attempts])
        return
    if not attempts:
        print(f"no attempt has been RUNNING for more than {args.minutes:g} minute(s)")
        return
    for attempt in attempts:
        doubt = " in doubt" if attempt.in_doubt else ""
        print(
            f"{attempt.tenant_id}/{attempt.account_id}/{attempt.action_intent_id}: RUNNING{doubt} since "
            f"{attempt.started_at.isoformat()} (attempt {attempt.attempt_count})"
        )


def cmd_not_executed(ops: Operations, args: argparse.Namespace) -> None:
    entries = ops.ledger.list_unattributed(args.limit)
    if args.json:
        _print([e.model_dump(mode="json", exclude_none=True) for e in entries])
        return
    if not entries:
        print("no approval of an unstored intent has been recorded")
        return
    for entry in entries:
        print(
            f"{entry.occurred_at.isoformat()}  {entry.tenant_id}/{entry.account_id}/{entry.action_intent_id}"
            f"  {entry.details.get('error_code', '-')}  execution {entry.execution_name}"
        )
    print(f"{len(entries)} approval(s) named an intent that was not stored; approve it again once it is")


def cmd_republish(ops: Operations, args: argparse.Namespace) -> None:
    published = ops.republish(args.tenant, args.account, args.intent)
    if published is None:
        raise CliError(f"no outcome is recorded for {args.intent} of {args.tenant}/{args.account}")
    print(f"published again for {args.intent}: {', '.join(published)} (same dedupe key)")


def cmd_publish_registry(ops: Operations, args: argparse.Namespace) -> None:
    for name, result in ops.publish_registry().items():
        print(f"{name}: {result.value}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="execctl",
        description="Operate the bounded execution layer: kill switches, approvals, statuses, the ledger.",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--local", action="store_true", help="the local runtime started by `make up` (default)"
    )
    target.add_argument(
        "--stack", metavar="NAME", help="a deployed stack, found by its CloudFormation outputs"
    )
    parser.add_argument("--region", help="AWS region of --stack (default: your AWS configuration)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    tenant, account, intent = _identifier("tenant"), _identifier("account"), _identifier("intent")

    stop = commands.add_parser("global-stop", help="stop (on) or resume (off) execution for every tenant")
    stop.add_argument("state", choices=["on", "off"])
    stop.add_argument("--reason", help="why, recorded with the switch")
    stop.add_argument("--by", default="operator", help="who flips it (default: operator)")
    stop.set_defaults(handler=cmd_global_stop)

    tenant_stop = commands.add_parser("tenant-stop", help="stop (on) or resume (off) one tenant's execution")
    tenant_stop.add_argument("tenant", type=tenant)
    tenant_stop.add_argument("state", choices=["on", "off"])
    tenant_stop.set_defaults(handler=cmd_tenant_stop)

    action = commands.add_parser("action-type", help="disable or enable one action type for one tenant")
    action.add_argument("state", choices=["disable", "enable"])
    action.add_argument("tenant", type=tenant)
    action.add_argument("action_type", type=_identifier("action type"), metavar="ACTION_TYPE")
    action.set_defaults(handler=cmd_action_type)

    approve = commands.add_parser("approve", help="emit ACTION_APPROVED for a stored intent")
    for name, kind in (("tenant", tenant), ("account", account), ("intent", intent)):
        approve.add_argument(name, type=kind)
    approve.set_defaults(handler=cmd_approve)

    status = commands.add_parser("status", help="show one execution's status (as the API derives it)")
    for name, kind in (("tenant", tenant), ("account", account), ("intent", intent)):
        status.add_argument(name, type=kind)
    status.set_defaults(handler=cmd_status)

    listing = commands.add_parser("list", help="list an account's executions, newest first")
    listing.add_argument("tenant", type=tenant)
    listing.add_argument("account", type=account)
    listing.add_argument("--limit", type=_limit, default=20, help="1-100 (default 20)")
    listing.set_defaults(handler=cmd_list)

    ledger = commands.add_parser("ledger", help="show an execution's ledger entries, oldest first")
    ledger.add_argument("tenant", type=tenant)
    ledger.add_argument("intent", type=intent)
    ledger.set_defaults(handler=cmd_ledger)

    _add_nothing_lost_commands(commands)

    publish = commands.add_parser("publish-registry", help="publish registry/action_types.json (immutable)")
    publish.set_defaults(handler=cmd_publish_registry)
    return parser


def _add_nothing_lost_commands(commands: Any) -> None:
    """reconcile, dead-letters, stuck, not-executed, republish: when something did not finish."""
    reconcile = commands.add_parser(
        "reconcile", help="run the sweeper now: record what executions that ended outside the pipeline did"
    )
    reconcile.add_argument("--dry-run", action="store_true", help="only say what it would record")
    reconcile.add_argument("--limit", type=_limit, default=25, help="attempts to look at, 1-100 (default 25)")
    reconcile.add_argument(
        "--older-than",
        type=_minutes,
        default=2.0,
        metavar="MINUTES",
        help="only attempts started longer ago than this (default 2; 0: all)",
    )
    reconcile.add_argument(
        "--all",
        action="store_true",
        help="also the attempts the sweeper put back for later (in doubt, still running, failed)",
    )
    reconcile.add_argument("--json", action="store_true", help="print the sweeper's report as JSON")
    reconcile.set_defaults(handler=cmd_reconcile)

    letters = commands.add_parser(
        "dead-letters", help="list the approvals that could not start, or redrive them"
    )
    letters.add_argument("--redrive", action="store_true", help="send each approval again, then drop it")
    letters.add_argument("--json", action="store_true", help="print the list as JSON")
    letters.set_defaults(handler=cmd_dead_letters)

    stuck = commands.add_parser("stuck", help="attempts RUNNING for longer than N minutes")
    stuck.add_argument("--minutes", type=_minutes, default=30.0, help="0-1440 (default 30)")
    stuck.add_argument("--json", action="store_true", help="print the attempts as JSON")
    stuck.set_defaults(handler=cmd_stuck)

    not_executed = commands.add_parser(
        "not-executed",
        help="approvals that ran nothing because their intent was not stored (kept outside every tenant)",
    )
    not_executed.add_argument("--limit", type=_limit, default=20, help="1-100 (default 20), newest first")
    not_executed.add_argument("--json", action="store_true", help="print the entries as JSON")
    not_executed.set_defaults(handler=cmd_not_executed)

    republish = commands.add_parser(
        "republish", help="publish a recorded outcome's events again (after a publisher dead letter)"
    )
    for name in ("tenant", "account", "intent"):
        republish.add_argument(name, type=_identifier(name))
    republish.set_defaults(handler=cmd_republish)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # bad usage exits 2 with argparse's message
    try:
        args.handler(_operations(args), args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ExecutionError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except OperationFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS call failed: {type(exc).__name__}", file=sys.stderr)
        return 1
    return 0


def _entrypoint() -> None:
    sys.exit(main())
