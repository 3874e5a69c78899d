"""`execctl`: the operator CLI, against the local runtime (`make up`) or a deployed stack.

A deployed stack is found by name through CloudFormation's outputs, with the caller's own AWS
credentials; the local runtime through the state file `make up` writes. Every change goes through the
same repositories the functions use, so an operator can flip a kill switch without a deploy.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3
import pydantic
from botocore.exceptions import BotoCoreError, ClientError

from execctl.operations import (
    CloudWatchFunctionLogs,
    FunctionLogFile,
    FunctionLogs,
    OperationFailedError,
    Operations,
    UnknownNameError,
    history,
)
from execution_core.errors import ExecutionError
from execution_core.models import ActionIntent, SwitchChange
from execution_core.models.common import Identifier, utc_now
from execution_core.services.switches import SwitchChangeResult
from local_runtime import runtime_state
from local_runtime.runtime_state import CliError

EXIT_USAGE = 2
MAX_OPERATOR_LENGTH = 256  # SwitchChange.changed_by
MAX_REASON_LENGTH = 500
MAX_TOKEN_LENGTH = 4096
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


def _text(what: str, max_length: int) -> Callable[[str], str]:
    """argparse type: 1 to ``max_length`` characters after stripping, else a usage error naming ``what``."""

    def parse(value: str) -> str:
        if not value.strip() or len(value) > max_length:
            raise argparse.ArgumentTypeError(f"{what} is 1 to {max_length} characters")
        return value.strip()

    return parse


_reason = _text("a reason", MAX_REASON_LENGTH)
_operator_name = _text("--by", MAX_OPERATOR_LENGTH)


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise argparse.ArgumentTypeError(f"limit must be a number between 1 and 100, not {value!r}")
    return int(value)


def _number(unit: str, low: float, high: float) -> Callable[[str], float]:
    """argparse type: a number of ``unit`` from ``low`` to ``high`` (nan and inf are neither)."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(
                f"{unit} must be a number between {low:g} and {high:g}, not {value!r}"
            )
        return number

    return parse


_minutes = _number("minutes", 0, 1440)
_seconds = _number("seconds", 1, 3600)


def _operations(args: argparse.Namespace) -> Operations:
    if args.stack:
        return _deployed(args.stack, args.region)
    return runtime_state.served_operations()  # a clear error when none is running, or it is starting


def _function_logs(ops: Operations, args: argparse.Namespace) -> FunctionLogs:
    if args.stack:
        return CloudWatchFunctionLogs(ops.client, ops.stack_name)
    log = runtime_state.read_state().get("function_log")
    return FunctionLogFile(Path(log)) if log else FunctionLogs()


def _operator(ops: Operations, args: argparse.Namespace) -> str:
    """Who makes a change: --by, else the caller's AWS identity (a stack) or the local user."""
    if args.by:
        return str(args.by)
    if args.stack:
        try:
            return str(ops.client("sts").get_caller_identity()["Arn"])[:MAX_OPERATOR_LENGTH]
        except (ClientError, BotoCoreError) as exc:
            raise CliError(
                f"cannot tell who you are (sts:GetCallerIdentity failed: {exc}); pass --by"
            ) from None
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment and no passwd entry
        user = "unknown user"
    return f"{user} (local runtime)"[:MAX_OPERATOR_LENGTH]


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


def _printed_as_json_or_none(
    args: argparse.Namespace, records: Sequence[pydantic.BaseModel], none: str
) -> bool:
    """--json prints the records; none prints ``none``. True when the command has nothing left to say."""
    if args.json:
        _print([r.model_dump(mode="json", exclude_none=True) for r in records])
        return True
    if not records:
        print(none)
        return True
    return False


# ---------------------------------------------------------------- commands
def _stopped(stopped: bool, on: str = "ON", off: str = "OFF") -> str:
    return on if stopped else off


def _report_change(
    args: argparse.Namespace, what: str, result: SwitchChangeResult, on: str = "ON", off: str = "OFF"
) -> None:
    """Print the switch before and after, and where the change was recorded."""
    before, after = _stopped(result.stopped_before, on, off), _stopped(result.stopped_after, on, off)
    if args.json:
        _print(
            {
                "switch": what,
                "before": before,
                "after": after,
                "changed": result.change is not None,
                "change": result.change.model_dump(mode="json", exclude_none=True) if result.change else None,
            }
        )
        return
    if result.change is None:
        print(f"{what} is already {after}; nothing changed")
        return
    print(f"{what}: {before} -> {after}")
    print(
        f"recorded in the audit trail: by {result.change.changed_by}, reason: {result.change.reason} "
        f"(change {result.change.change_id}; `execctl audit` lists changes)"
    )


def cmd_global_stop(ops: Operations, args: argparse.Namespace) -> None:
    result = ops.set_global_stop(args.state == "on", reason=args.reason, by=_operator(ops, args))
    _report_change(args, "global stop", result)


def cmd_tenant_stop(ops: Operations, args: argparse.Namespace) -> None:
    by = _operator(ops, args)
    result = ops.set_tenant_execution(args.tenant, enabled=args.state == "off", reason=args.reason, by=by)
    _report_change(args, f"tenant {args.tenant} stop", result)


def cmd_action_type(ops: Operations, args: argparse.Namespace) -> None:
    by = _operator(ops, args)
    result = ops.set_action_type_enabled(
        args.tenant, args.action_type, args.state == "enable", reason=args.reason, by=by
    )
    _report_change(args, f"tenant {args.tenant} {args.action_type}", result, on="disabled", off="enabled")
    if not args.json:
        print(
            f"disabled for {args.tenant} now: {', '.join(ops.disabled_action_types(args.tenant)) or 'none'}"
        )


def _describe_change(change: SwitchChange) -> str:
    scope = {
        "GLOBAL": "global stop",
        "TENANT": f"tenant {change.tenant_id} stop",
        "ACTION_TYPE": f"tenant {change.tenant_id} {change.action_type}",
    }[change.scope.value]
    on, off = ("disabled", "enabled") if change.scope.value == "ACTION_TYPE" else ("ON", "OFF")
    return f"{scope}: {_stopped(change.stopped_before, on, off)} -> {_stopped(change.stopped_after, on, off)}"


def cmd_audit(ops: Operations, args: argparse.Namespace) -> None:
    changes = ops.ledger.list_switch_changes(args.limit)
    if _printed_as_json_or_none(args, changes, "no kill-switch change has been recorded"):
        return
    for change in changes:
        when = change.changed_at.isoformat()
        print(f"{when}  {_describe_change(change)}  by {change.changed_by}: {change.reason}")


def cmd_approve(ops: Operations, args: argparse.Namespace) -> None:
    ops.known_intent(args.tenant, args.account, args.intent)  # an unknown intent is refused, not emitted
    before = len(ops.executions_for(args.intent)) if args.wait else 0
    event_id = ops.approve(args.tenant, args.account, args.intent)
    if not args.wait:
        if args.json:
            _print({"action_intent_id": args.intent, "event_id": event_id})
        else:
            print(f"ACTION_APPROVED sent for {args.intent} (event {event_id})")
        return
    try:
        executions = ops.wait_for_executions(args.intent, count=before + 1, timeout=args.timeout)
    except TimeoutError as exc:
        raise OperationFailedError(f"approved (event {event_id}), but {exc}") from None
    status = ops.status(args.tenant, args.account, args.intent)
    latest = sorted(executions, key=lambda e: e.execution_arn)[-1] if executions else None
    if args.json:
        _print(
            {
                "action_intent_id": args.intent,
                "event_id": event_id,
                "status": status.model_dump(mode="json", exclude_none=True) if status else None,
            }
        )
        return
    shown = status.status.value if status else "unknown"
    print(f"ACTION_APPROVED sent for {args.intent} (event {event_id}); {len(executions)} execution(s) ended")
    print(f"status: {shown}" + (f" (last execution {latest.status})" if latest else ""))


def _read_intent(path: Path) -> ActionIntent:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CliError(f"{path} is not JSON: {exc}") from None
    try:
        return ActionIntent.model_validate(document)
    except pydantic.ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in error['loc']) or '(document)'}: {error['msg']}"
            for error in exc.errors()[:10]
        ]
        raise CliError(
            f"{path} is not a valid action intent (docs/schemas/action-intent.schema.json):\n  "
            + "\n  ".join(problems)
        ) from None


def cmd_intent_put(ops: Operations, args: argparse.Namespace) -> None:
    intent = _read_intent(Path(args.file))
    ops.known_account(intent.tenant_id, intent.account_id)
    ops.known_action_type(intent.action_type)
    if ops.registry.get(intent.action_type, intent.registry_version) is None:
        latest = ops.registry.latest(intent.action_type)
        raise CliError(
            f"{intent.action_type} has no registry version {intent.registry_version}"
            + (f" (the latest is {latest.registry_version})" if latest else "")
        )
    if intent.expires_at <= utc_now():
        raise CliError(f"the intent expired at {intent.expires_at.isoformat()}; it would never run")
    stored = ops.put_intent(intent)
    if not stored:
        existing = ops.intents.get(intent.tenant_id, intent.account_id, intent.action_intent_id)
        if existing != intent:
            raise CliError(
                f"another intent is stored as {intent.action_intent_id}; intents are never overwritten "
                "(give this one a new action_intent_id)"
            )
    where = f"{intent.tenant_id}/{intent.account_id}/{intent.action_intent_id}"
    if args.json:
        _print({"action_intent_id": intent.action_intent_id, "stored": stored, "already_stored": not stored})
    else:
        print(f"{'stored' if stored else 'already stored (same content)'}: {where}")


def cmd_status(ops: Operations, args: argparse.Namespace) -> None:
    ops.known_account(args.tenant, args.account)
    status = ops.status(args.tenant, args.account, args.intent)
    if status is None:
        raise CliError(f"no execution, attempt or intent {args.intent} for {args.tenant}/{args.account}")
    _print(status.model_dump(mode="json", exclude_none=True))


def cmd_list(ops: Operations, args: argparse.Namespace) -> None:
    ops.known_account(args.tenant, args.account)
    executions = ops.list_executions(args.tenant, args.account, args.limit)
    _print([e.model_dump(mode="json", exclude_none=True) for e in executions])


def cmd_ledger(ops: Operations, args: argparse.Namespace) -> None:
    ops.known_tenant(args.tenant)
    entries = ops.ledger_entries(args.tenant, args.intent)
    if not entries:
        raise CliError(f"no ledger entries for {args.intent} of tenant {args.tenant}")
    if args.json:
        _print([e.model_dump(mode="json", exclude_none=True) for e in entries])
        return
    for entry in entries:
        details = " ".join(f"{k}={v}" for k, v in sorted(entry.details.items()))
        when, kind = entry.occurred_at.isoformat(), entry.event_type.value
        print(f"{when}  {kind:<20} attempt {entry.attempt_count}  {details}")


def cmd_trace(ops: Operations, args: argparse.Namespace) -> None:
    """A decision trace's ledger entries, across the intents it led to (the TraceIndex)."""
    entries = ops.ledger.list_for_trace(args.trace, args.limit).items
    if not entries:
        raise CliError(f"no ledger entries for decision trace {args.trace!r}")
    if args.json:
        _print([e.model_dump(mode="json", exclude_none=True) for e in entries])
        return
    for entry in entries:
        where = f"{entry.tenant_id}/{entry.account_id}/{entry.action_intent_id}"
        print(f"{entry.occurred_at.isoformat()}  {entry.event_type.value:<20} {where}")


def cmd_history(ops: Operations, args: argparse.Namespace) -> None:
    timeline = history(ops, args.tenant, args.account, args.intent, _function_logs(ops, args))
    if args.json:
        _print([entry.as_json() for entry in timeline])
        return
    for entry in timeline:
        detail = " ".join(f"{k}={v}" for k, v in entry.detail.items())
        when = entry.at.isoformat(timespec="milliseconds")
        print(f"{when}  {entry.source:<6} {entry.what}  {detail}".rstrip())


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
    if _printed_as_json_or_none(
        args, attempts, f"no attempt has been RUNNING for more than {args.minutes:g} minute(s)"
    ):
        return
    for attempt in attempts:
        doubt = " in doubt" if attempt.in_doubt else ""
        print(
            f"{attempt.tenant_id}/{attempt.account_id}/{attempt.action_intent_id}: RUNNING{doubt} since "
            f"{attempt.started_at.isoformat()} (attempt {attempt.attempt_count})"
        )


def cmd_not_executed(ops: Operations, args: argparse.Namespace) -> None:
    entries = ops.ledger.list_unattributed(args.limit)
    if _printed_as_json_or_none(args, entries, "no approval of an unstored intent has been recorded"):
        return
    for entry in entries:
        print(
            f"{entry.occurred_at.isoformat()}  {entry.tenant_id}/{entry.account_id}/{entry.action_intent_id}"
            f"  {entry.details.get('error_code', '-')}  execution {entry.execution_name}"
        )
    print(f"{len(entries)} approval(s) named an intent that was not stored; approve it again once it is")


def cmd_republish(ops: Operations, args: argparse.Namespace) -> None:
    ops.known_account(args.tenant, args.account)
    published = ops.republish(args.tenant, args.account, args.intent)
    if published is None:
        raise CliError(f"no outcome is recorded for {args.intent} of {args.tenant}/{args.account}")
    print(f"published again for {args.intent}: {', '.join(published)} (same dedupe key)")


def cmd_backfill_status_keys(ops: Operations, args: argparse.Namespace) -> None:
    updated = ops.attempts.backfill_status_keys()
    print(
        f"{updated} attempt(s) given their status-filter index key (ADR 0010); "
        "the others had it already. Safe to run again."
    )


def cmd_tenant_create(ops: Operations, args: argparse.Namespace) -> None:
    accounts = sorted(set(args.account))
    if not ops.create_tenant(args.tenant, accounts):
        raise CliError(
            f"tenant {args.tenant} already exists; nothing was changed "
            "(`execctl tenant add-account` adds an account, `tenant-stop` changes its switch)"
        )
    if args.json:
        _print({"tenant_id": args.tenant, "account_ids": accounts, "execution_enabled": True})
        return
    print(f"tenant {args.tenant} created with account(s) {', '.join(accounts)}; execution enabled")


def cmd_tenant_show(ops: Operations, args: argparse.Namespace) -> None:
    _print(ops.known_tenant(args.tenant).model_dump(mode="json", exclude_none=True))


def cmd_tenant_add_account(ops: Operations, args: argparse.Namespace) -> None:
    ops.known_tenant(args.tenant)
    added = ops.tenants.add_account(args.tenant, args.account)
    _report_membership(args, changed=added, done="added to", already="already belongs to")


def cmd_tenant_remove_account(ops: Operations, args: argparse.Namespace) -> None:
    ops.known_account(args.tenant, args.account)  # a typo is refused, naming the accounts that exist
    removed = ops.tenants.remove_account(args.tenant, args.account)
    _report_membership(args, changed=removed, done="removed from", already="no longer belongs to")


def _report_membership(args: argparse.Namespace, *, changed: bool, done: str, already: str) -> None:
    if args.json:
        _print({"tenant_id": args.tenant, "account_id": args.account, "changed": changed})
        return
    what = f"account {args.account} {done if changed else already} tenant {args.tenant}"
    print(what if changed else f"{what}; nothing changed")


def cmd_tail(ops: Operations, args: argparse.Namespace) -> None:
    """A tenant's newest ledger entries across its accounts (the TenantTimeIndex), newest first."""
    ops.known_tenant(args.tenant)
    entries = ops.ledger.list_for_tenant(args.tenant, args.limit).items
    if _printed_as_json_or_none(args, entries, f"no ledger entries for tenant {args.tenant}"):
        return
    for entry in entries:
        where = f"{entry.account_id}/{entry.action_intent_id} attempt {entry.attempt_count}"
        print(f"{entry.occurred_at.isoformat()}  {entry.event_type.value:<20} {where}")


def cmd_crm_connect(ops: Operations, args: argparse.Namespace) -> None:
    ops.known_account(args.tenant, args.account)
    token = _read_token()
    ops.connect_crm(args.tenant, args.account, args.instance_url, token)
    secret = ops.crm_secret_name(args.tenant, args.account)
    if args.json:
        _print({"tenant_id": args.tenant, "account_id": args.account, "secret_id": secret})
        return
    print(f"CRM connected for {args.tenant}/{args.account} at {args.instance_url}; token stored as {secret}")


def _read_token() -> str:
    """The CRM access token from stdin when piped, else a hidden prompt: never an argument, which would
    land in the shell's history and the process list."""
    token = (getpass.getpass("CRM access token: ") if sys.stdin.isatty() else sys.stdin.read()).strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise CliError(f"the access token must be 1 to {MAX_TOKEN_LENGTH} characters without spaces")
    return token


def cmd_publish_registry(ops: Operations, args: argparse.Namespace) -> None:
    for name, result in ops.publish_registry().items():
        print(f"{name}: {result.value}")


def _switch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reason", required=True, type=_reason, help="why (kept in the audit trail with the change)"
    )
    parser.add_argument(
        "--by",
        type=_operator_name,
        help="who makes the change (default: your AWS identity, or your user name locally)",
    )
    _json_option(parser)


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


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

    _add_switch_commands(commands, tenant)
    _add_record_commands(commands, tenant, account, intent)
    _add_nothing_lost_commands(commands)
    _add_tenant_commands(commands, tenant, account)

    publish = commands.add_parser("publish-registry", help="publish registry/action_types.json (immutable)")
    publish.set_defaults(handler=cmd_publish_registry)
    return parser


def _add_switch_commands(commands: Any, tenant: Callable[[str], str]) -> None:
    """global-stop, tenant-stop, action-type, audit: the kill switches and their audit trail."""
    stop = commands.add_parser("global-stop", help="stop (on) or resume (off) execution for every tenant")
    stop.add_argument("state", choices=["on", "off"])
    _switch_options(stop)
    stop.set_defaults(handler=cmd_global_stop)

    tenant_stop = commands.add_parser("tenant-stop", help="stop (on) or resume (off) one tenant's execution")
    tenant_stop.add_argument("tenant", type=tenant)
    tenant_stop.add_argument("state", choices=["on", "off"])
    _switch_options(tenant_stop)
    tenant_stop.set_defaults(handler=cmd_tenant_stop)

    action = commands.add_parser("action-type", help="disable or enable one action type for one tenant")
    action.add_argument("state", choices=["disable", "enable"])
    action.add_argument("tenant", type=tenant)
    action.add_argument("action_type", type=_identifier("action type"), metavar="ACTION_TYPE")
    _switch_options(action)
    action.set_defaults(handler=cmd_action_type)

    audit = commands.add_parser("audit", help="the kill-switch changes: who changed what, why, newest first")
    audit.add_argument("--limit", type=_limit, default=20, help="1-100 (default 20)")
    _json_option(audit)
    audit.set_defaults(handler=cmd_audit)


def _add_tenant_commands(commands: Any, tenant: Callable[[str], str], account: Callable[[str], str]) -> None:
    """tenant create/show/add-account/remove-account, crm-connect, tail: onboarding and a tenant's ledger."""
    tenant_command = commands.add_parser("tenant", help="onboard a tenant, show it, add or remove accounts")
    actions = tenant_command.add_subparsers(dest="tenant_action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="a new tenant with its accounts, execution enabled")
    create.add_argument("tenant", type=tenant)
    create.add_argument(
        "--account", type=account, action="append", required=True, help="a member account (repeatable)"
    )
    _json_option(create)
    create.set_defaults(handler=cmd_tenant_create)
    show = actions.add_parser("show", help="the tenant's switches and member accounts")
    show.add_argument("tenant", type=tenant)
    show.set_defaults(handler=cmd_tenant_show)
    for name, handler, text in (
        ("add-account", cmd_tenant_add_account, "make an account a member of the tenant"),
        ("remove-account", cmd_tenant_remove_account, "take an account out of the tenant"),
    ):
        membership = actions.add_parser(name, help=text)
        membership.add_argument("tenant", type=tenant)
        membership.add_argument("account", type=account)
        _json_option(membership)
        membership.set_defaults(handler=handler)

    connect = commands.add_parser(
        "crm-connect", help="store an account's CRM token (read from stdin or a prompt) and its connector"
    )
    connect.add_argument("tenant", type=tenant)
    connect.add_argument("account", type=account)
    connect.add_argument("--instance-url", required=True, help="the CRM's https origin")
    _json_option(connect)
    connect.set_defaults(handler=cmd_crm_connect)

    tail = commands.add_parser("tail", help="a tenant's newest ledger entries, across its accounts")
    tail.add_argument("tenant", type=tenant)
    tail.add_argument("--limit", type=_limit, default=20, help="1-100 (default 20)")
    _json_option(tail)
    tail.set_defaults(handler=cmd_tail)


def _add_record_commands(
    commands: Any, tenant: Callable[[str], str], account: Callable[[str], str], intent: Callable[[str], str]
) -> None:
    """intent put, approve, status, list, ledger, trace, history: the flow and what it recorded."""
    intent_command = commands.add_parser("intent", help="store an approved intent (as the upstream does)")
    intent_actions = intent_command.add_subparsers(dest="intent_action", required=True, metavar="ACTION")
    put = intent_actions.add_parser(
        "put", help="store the intent in a JSON file (docs/schemas/action-intent.schema.json)"
    )
    put.add_argument("--file", required=True, metavar="FILE", help="the intent as JSON")
    _json_option(put)
    put.set_defaults(handler=cmd_intent_put)

    approve = commands.add_parser("approve", help="emit ACTION_APPROVED for a stored intent")
    for name, kind in (("tenant", tenant), ("account", account), ("intent", intent)):
        approve.add_argument(name, type=kind)
    approve.add_argument(
        "--wait", action="store_true", help="wait for the execution to end, print its status"
    )
    approve.add_argument("--timeout", type=_seconds, default=120.0, help="seconds --wait waits (default 120)")
    _json_option(approve)
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
    _json_option(ledger)
    ledger.set_defaults(handler=cmd_ledger)

    trace = commands.add_parser("trace", help="every ledger entry of one decision trace, oldest first")
    trace.add_argument("trace", type=_identifier("trace id"), metavar="TRACE_ID")
    trace.add_argument("--limit", type=_limit, default=100, help="1-100 (default 100)")
    _json_option(trace)
    trace.set_defaults(handler=cmd_trace)

    story = commands.add_parser(
        "history", help="one intent's story: its states with timings, its ledger and every function's log"
    )
    for name, kind in (("tenant", tenant), ("account", account), ("intent", intent)):
        story.add_argument(name, type=kind)
    _json_option(story)
    story.set_defaults(handler=cmd_history)


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

    backfill = commands.add_parser(
        "backfill-status-keys",
        help="once after upgrading: index keys for attempts written before the status filter (ADR 0010)",
    )
    backfill.set_defaults(handler=cmd_backfill_status_keys)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # bad usage exits 2 with argparse's message
    try:
        args.handler(_operations(args), args)
    except (CliError, UnknownNameError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except pydantic.ValidationError as exc:  # a value the records cannot hold: never a traceback
        fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()}))
        print(f"error: invalid value for {fields or 'the request'}; nothing was changed", file=sys.stderr)
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
