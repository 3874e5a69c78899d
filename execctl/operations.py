"""Operator actions against a stack, local or deployed: everything goes through the AWS APIs and the
shared package's repositories, found from the stack's outputs.

Used by the operator CLI (`execctl.cli`), the local runtime and the tests.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from execution_core.errors import ExecutionError
from execution_core.models.adapters import ConnectorConfig, ConnectorType
from execution_core.models.common import utc_now
from execution_core.models.execution import ActionOutcome, ExecutionAttempt, ExecutionStatus
from execution_core.models.intent import ActionIntent
from execution_core.models.ledger import LedgerEntry
from execution_core.models.tenant import TenantConfig
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.connector_config import ConnectorConfigRepository
from execution_core.repositories.external_writes import ExternalWriteRepository
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.internal_objects import InternalObjectRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.outcomes import ExecutionOutcomeRepository
from execution_core.repositories.registry import ActionTypeRegistryRepository, PublishResult
from execution_core.repositories.status_read import StatusReadRepository
from execution_core.repositories.tenants import TenantRepository
from execution_core.services.events import EventPublisher
from execution_core.services.outbox import OutcomeOutbox, outcome_events
from execution_core.services.registry import publish_definitions
from execution_core.services.status import derive_status, status_from_attempt
from execution_core.services.switches import SwitchChangeResult, SwitchChanges

# The checkout this package runs from: execctl ships with the repository, next to registry/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
REGISTRY_DEFINITIONS = PROJECT_ROOT / "registry" / "action_types.json"
ClientFactory = Callable[[str], Any]
TERMINAL_EXECUTION_STATES = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


UNSTATED_REASON = "no reason given"  # only programmatic callers may omit one; execctl asks for it


class UnknownNameError(Exception):
    """An operator named a tenant, account, action type or intent that does not exist (a typo)."""

    def __init__(self, kind: str, name: str, known: list[str], scope: str | None = None) -> None:
        self.kind, self.name, self.known = kind, name, known
        message = f"unknown {kind} {name!r}" + (f" in {scope}" if scope else "")
        close = difflib.get_close_matches(name, known, n=1)
        message += f"; did you mean {close[0]!r}?" if close else "."
        if known:
            listed = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
            message += f" Known: {listed}."
        super().__init__(f"{message} Nothing was changed.")


class OperationFailedError(Exception):
    """The stack refused or failed what the operator asked (the message says what, never a secret)."""


@dataclass(frozen=True)
class DeadLetter:
    """An approval EventBridge could not deliver, as its dead-letter queue holds it."""

    message_id: str
    receipt_handle: str
    event: dict[str, Any]
    error_code: str | None
    error_message: str | None

    @property
    def action_intent_id(self) -> str | None:
        detail = self.event.get("detail")
        return str(detail.get("action_intent_id")) if isinstance(detail, dict) else None


@dataclass(frozen=True)
class ExecutionSummary:
    execution_arn: str
    status: str
    error: str | None
    output: dict[str, Any] | None


class Operations:
    """What an operator (or the demo) does to a stack, by its outputs."""

    def __init__(self, client: ClientFactory, outputs: dict[str, str], stack_name: str) -> None:
        self._client = client
        self.outputs = outputs
        self.stack_name = stack_name
        self._dynamodb = client("dynamodb")
        self._intent_of: dict[str, str] = {}  # execution ARN -> the intent its input names
        self._ended: dict[str, ExecutionSummary] = {}  # ended executions never change

    def client(self, service: str) -> Any:
        return self._client(service)

    # ---------------------------------------------------------------- repositories by table output
    @property
    def intents(self) -> ActionIntentRepository:
        return ActionIntentRepository(self._dynamodb, self.outputs["ActionIntentsTableName"])

    @property
    def attempts(self) -> ExecutionAttemptRepository:
        return ExecutionAttemptRepository(self._dynamodb, self.outputs["ExecutionAttemptsTableName"])

    @property
    def outcomes(self) -> ExecutionOutcomeRepository:
        return ExecutionOutcomeRepository(self._dynamodb, self.outputs["ExecutionOutcomesTableName"])

    @property
    def ledger(self) -> LedgerRepository:
        return LedgerRepository(self._dynamodb, self.outputs["LedgerTableName"])

    @property
    def internal_objects(self) -> InternalObjectRepository:
        return InternalObjectRepository(self._dynamodb, self.outputs["InternalObjectsTableName"])

    @property
    def external_writes(self) -> ExternalWriteRepository:
        return ExternalWriteRepository(self._dynamodb, self.outputs["ExternalWritesTableName"])

    @property
    def tenants(self) -> TenantRepository:
        return TenantRepository(self._dynamodb, self.outputs["TenantsTableName"])

    @property
    def registry(self) -> ActionTypeRegistryRepository:
        return ActionTypeRegistryRepository(self._dynamodb, self.outputs["ActionTypeRegistryTableName"])

    @property
    def connectors(self) -> ConnectorConfigRepository:
        return ConnectorConfigRepository(self._dynamodb, self.outputs["ConnectorConfigTableName"])

    # ---------------------------------------------------------------- set-up
    def publish_registry(self, path: Path = REGISTRY_DEFINITIONS) -> dict[str, PublishResult]:
        return publish_definitions(self.registry, path)

    def configure_tenant(
        self,
        tenant_id: str,
        account_ids: Iterable[str],
        *,
        execution_enabled: bool = True,
        disabled_action_types: Iterable[str] = (),
        now: datetime | None = None,
    ) -> None:
        self.tenants.put_config(
            TenantConfig(
                tenant_id=tenant_id,
                execution_enabled=execution_enabled,
                disabled_action_types=list(disabled_action_types),
                account_ids=list(account_ids),
                updated_at=now or utc_now(),
            )
        )

    def create_tenant(self, tenant_id: str, account_ids: Iterable[str]) -> bool:
        """Onboard a tenant with execution enabled; False (nothing written) when it already exists."""
        return self.tenants.create_config(
            TenantConfig(
                tenant_id=tenant_id,
                execution_enabled=True,
                account_ids=list(account_ids),
                updated_at=utc_now(),
            )
        )

    @property
    def switches(self) -> SwitchChanges:
        return SwitchChanges(self._dynamodb, self.tenants, self.ledger)

    def set_global_stop(
        self, enabled: bool, reason: str | None = None, by: str = "operator"
    ) -> SwitchChangeResult:
        """Every switch change is audited (who, why, before, after), from the CLI or from a test."""
        return self.switches.set_global_stop(enabled, by=by, reason=reason or UNSTATED_REASON, now=utc_now())

    def crm_secret_name(self, tenant_id: str, account_id: str) -> str:
        return f"{self.stack_name}/crm/{tenant_id}/{account_id}"

    def connect_crm(self, tenant_id: str, account_id: str, instance_url: str, access_token: str) -> None:
        """Store the CRM credential in Secrets Manager and point the connector config at it (validated
        first: a refused URL leaves the stored token as it was)."""
        secrets = self._client("secretsmanager")
        name = self.crm_secret_name(tenant_id, account_id)
        config = ConnectorConfig(
            tenant_id=tenant_id,
            account_id=account_id,
            connector_type=ConnectorType.CRM,
            instance_url=instance_url,
            secret_id=name,
            updated_at=utc_now(),
        )
        value = json.dumps({"access_token": access_token})
        try:
            secrets.create_secret(Name=name, SecretString=value)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=name, SecretString=value)
        self.connectors.put(config)

    # ---------------------------------------------------------------- the flow
    def put_intent(self, intent: ActionIntent) -> bool:
        return self.intents.put(intent)

    def approve(self, tenant_id: str, account_id: str, action_intent_id: str) -> str:
        """Emit ACTION_APPROVED the way the upstream decision system does; returns the event id."""
        detail = {"action_intent_id": action_intent_id, "tenant_id": tenant_id, "account_id": account_id}
        response = self._client("events").put_events(
            Entries=[
                {
                    "Source": self.outputs["ApprovalEventSource"],
                    "DetailType": "ACTION_APPROVED",
                    "Detail": json.dumps(detail),
                    "EventBusName": self.outputs["ExecutionEventBusName"],
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise OperationFailedError(f"ACTION_APPROVED was not accepted: {response['Entries']}")
        return str(response["Entries"][0]["EventId"])

    def executions_for(self, action_intent_id: str) -> list[ExecutionSummary]:
        """Every execution of the state machine for this intent (each execution is described once to learn
        its intent, and once more when it has ended: polling stays cheap however many executions exist)."""
        sfn = self._client("stepfunctions")
        machine = self.outputs["ExecutionStateMachineArn"]
        found = []
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
            for listed in page["executions"]:
                arn = listed["executionArn"]
                if arn not in self._intent_of:
                    described = sfn.describe_execution(executionArn=arn)
                    detail = json.loads(described.get("input") or "{}").get("detail", {})
                    self._intent_of[arn] = str(detail.get("action_intent_id", ""))
                if self._intent_of[arn] != action_intent_id:
                    continue
                found.append(self._summary(sfn, arn, listed["status"]))
        return found

    def _summary(self, sfn: Any, arn: str, listed_status: str) -> ExecutionSummary:
        ended = self._ended.get(arn)
        if ended is not None:
            return ended
        if listed_status not in TERMINAL_EXECUTION_STATES:
            return ExecutionSummary(arn, listed_status, None, None)
        described = sfn.describe_execution(executionArn=arn)
        output = json.loads(described["output"]) if described.get("output") else None
        summary = ExecutionSummary(arn, described["status"], described.get("error"), output)
        if summary.status in TERMINAL_EXECUTION_STATES:
            self._ended[arn] = summary
        return summary

    def states_entered(self, execution_arn: str) -> list[str]:
        """The states an execution has entered so far, in order (from its history)."""
        sfn = self._client("stepfunctions")
        history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]

    def wait_for_executions(
        self, action_intent_id: str, count: int = 1, timeout: float = 60.0
    ) -> list[ExecutionSummary]:
        """Poll until `count` executions of the intent exist and all have finished."""
        deadline = time.monotonic() + timeout
        while True:
            executions = self.executions_for(action_intent_id)
            done = [e for e in executions if e.status in TERMINAL_EXECUTION_STATES]
            if len(executions) >= count and len(done) == len(executions):
                return executions
            if time.monotonic() > deadline:
                states = [e.status for e in executions]
                raise TimeoutError(f"executions of {action_intent_id} not finished in {timeout}s: {states}")
            time.sleep(0.02)

    def known_tenant(self, tenant_id: str) -> TenantConfig:
        """The tenant's configuration; UnknownNameError (naming the tenants that exist) when it has none."""
        config = self.tenants.get_config(tenant_id)
        if config is None:
            raise UnknownNameError("tenant", tenant_id, self.tenants.list_tenant_ids())
        return config

    def known_account(self, tenant_id: str, account_id: str) -> TenantConfig:
        config = self.known_tenant(tenant_id)
        if account_id not in config.account_ids:
            raise UnknownNameError("account", account_id, config.account_ids, scope=f"tenant {tenant_id}")
        return config

    def known_action_type(self, action_type: str) -> None:
        if self.registry.latest(action_type) is None:
            raise UnknownNameError("action type", action_type, self.registry.list_action_types())

    def known_intent(self, tenant_id: str, account_id: str, action_intent_id: str) -> ActionIntent:
        self.known_account(tenant_id, account_id)
        intent = self.intents.get(tenant_id, account_id, action_intent_id)
        if intent is None:
            raise UnknownNameError("intent", action_intent_id, [], scope=f"{tenant_id}/{account_id}")
        return intent

    def set_tenant_execution(
        self, tenant_id: str, enabled: bool, reason: str | None = None, by: str = "operator"
    ) -> SwitchChangeResult:
        config = self.known_tenant(tenant_id)
        return self.switches.set_tenant_stop(
            config, not enabled, by=by, reason=reason or UNSTATED_REASON, now=utc_now()
        )

    def set_action_type_enabled(
        self, tenant_id: str, action_type: str, enabled: bool, reason: str | None = None, by: str = "operator"
    ) -> SwitchChangeResult:
        """Switch one action type for one tenant (it must be in the registry, the tenant configured)."""
        self.known_action_type(action_type)
        config = self.known_tenant(tenant_id)
        return self.switches.set_action_type_disabled(
            config, action_type, not enabled, by=by, reason=reason or UNSTATED_REASON, now=utc_now()
        )

    def disabled_action_types(self, tenant_id: str) -> list[str]:
        return sorted(self.known_tenant(tenant_id).disabled_action_types)

    # ---------------------------------------------------------------- nothing is lost
    def reconcile(
        self,
        *,
        dry_run: bool = False,
        limit: int = 25,
        older_than_seconds: int = 120,
        include_deferred: bool = False,
    ) -> dict[str, Any]:
        """Run the sweeper now (the deployed reconciler function), and return its report."""
        request = {
            "dry_run": dry_run,
            "limit": limit,
            "older_than_seconds": older_than_seconds,
            "include_deferred": include_deferred,
        }
        response = self._client("lambda").invoke(
            FunctionName=self.outputs["ReconcilerFunctionAliasArn"],
            Payload=json.dumps({"sweep": request}).encode(),
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise OperationFailedError(
                f"the reconciler failed: {payload.get('errorType')}: {payload.get('errorMessage')}"
            )
        return dict(payload)

    def dead_letters(self, limit: int = 100, hold_seconds: int = 0) -> list[DeadLetter]:
        """The approvals in the dead-letter queue, left there. ``hold_seconds`` hides them from other
        readers meanwhile (a redrive holds them while it sends them again)."""
        sqs = self._client("sqs")
        found: dict[str, DeadLetter] = {}
        while len(found) < limit:
            batch = sqs.receive_message(
                QueueUrl=self.outputs["ApprovalDeadLetterQueueUrl"],
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold_seconds,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in found]
            if not fresh:
                break
            for message in fresh:
                attributes = message.get("MessageAttributes", {})
                found[message["MessageId"]] = DeadLetter(
                    message_id=message["MessageId"],
                    receipt_handle=message["ReceiptHandle"],
                    event=json.loads(message["Body"]),
                    error_code=attributes.get("ERROR_CODE", {}).get("StringValue"),
                    error_message=attributes.get("ERROR_MESSAGE", {}).get("StringValue"),
                )
        return list(found.values())

    def redrive(self, letter: DeadLetter) -> str:
        """Send the approval again as emitted, then drop it from the queue; returns the new event id."""
        event = letter.event
        response = self._client("events").put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "EventBusName": self.outputs["ExecutionEventBusName"],
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise OperationFailedError(f"the approval was not accepted again: {response['Entries']}")
        self._client("sqs").delete_message(
            QueueUrl=self.outputs["ApprovalDeadLetterQueueUrl"], ReceiptHandle=letter.receipt_handle
        )
        return str(response["Entries"][0]["EventId"])

    def republish(self, tenant_id: str, account_id: str, action_intent_id: str) -> list[str] | None:
        """Publish a recorded outcome's events again, exactly as the outbox publisher does (same dedupe
        keys, so consumers drop what they already had); None when no outcome is recorded. For records the
        publisher dead-lettered, which Lambda's on-failure message names only by stream position."""
        outcome = self.outcome(tenant_id, account_id, action_intent_id)
        if outcome is None:
            return None
        publisher = EventPublisher(
            client=self._client("events"),
            bus_name=self.outputs["ExecutionEventBusName"],
            source=self.outputs["ExecutionEventSource"],
        )
        try:
            OutcomeOutbox(publisher).publish(outcome)
        except ExecutionError as exc:
            raise OperationFailedError(f"the events were not accepted: {exc.message}") from None
        return [event.detail_type for event in outcome_events(outcome)]

    def stuck(self, older_than_minutes: float, limit: int = 100) -> list[ExecutionAttempt]:
        """Attempts still RUNNING that started more than ``older_than_minutes`` ago."""
        return self.attempts.list_started_before(utc_now() - timedelta(minutes=older_than_minutes), limit)

    # ---------------------------------------------------------------- reading results
    @property
    def status_reader(self) -> StatusReadRepository:
        return StatusReadRepository(
            self._dynamodb,
            self.outputs["ActionIntentsTableName"],
            self.outputs["ExecutionAttemptsTableName"],
            self.outputs["ExecutionOutcomesTableName"],
        )

    def status(self, tenant_id: str, account_id: str, action_intent_id: str) -> ExecutionStatus | None:
        """What the status API would answer (None: the API's 404)."""
        records = self.status_reader.get_execution_records(tenant_id, account_id, action_intent_id)
        return derive_status(records, utc_now())

    def list_executions(self, tenant_id: str, account_id: str, limit: int) -> list[ExecutionStatus]:
        page = self.status_reader.list_executions(tenant_id, account_id, limit)
        return [status_from_attempt(attempt) for attempt in page.items]

    def outcome(self, tenant_id: str, account_id: str, action_intent_id: str) -> ActionOutcome | None:
        return self.outcomes.get(tenant_id, account_id, action_intent_id)

    def attempt(self, tenant_id: str, account_id: str, action_intent_id: str) -> ExecutionAttempt | None:
        return self.attempts.get(tenant_id, account_id, action_intent_id)

    def ledger_entries(self, tenant_id: str, action_intent_id: str) -> list[LedgerEntry]:
        """An intent's ledger, oldest first (one Query of its entries' key prefix)."""
        return self.ledger.list_for_intent(tenant_id, action_intent_id)


# ---------------------------------------------------------------- one execution's story
@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to an intent: a state entered or left, a ledger entry, a log line."""

    at: datetime
    source: str  # "state", "ledger" or "log"
    what: str
    detail: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "source": self.source, "what": self.what, "detail": self.detail}


class FunctionLogs:
    """Where the functions' JSON log lines are: a file (the local runtime) or CloudWatch Logs (a stack).

    This base knows of none (a runtime that keeps no log file): the story is told without log lines."""

    def lines_for(self, action_intent_id: str, since: datetime) -> list[TimelineEntry]:
        return []


def _log_entry(line: dict[str, Any], action_intent_id: str) -> TimelineEntry | None:
    """A Powertools JSON log line about this intent (metric lines and other intents' lines are None)."""
    if line.get("action_intent_id") != action_intent_id or "message" not in line:
        return None
    try:
        at = datetime.strptime(str(line["timestamp"]), "%Y-%m-%d %H:%M:%S,%f%z")
    except (KeyError, ValueError):
        return None
    function = str(line.get("function_name") or line.get("service") or "?")
    keep = ("level", "location", "error_code", "error_class", "status", "tool_name", "execution_id")
    detail = {"function": function} | {k: line[k] for k in keep if k in line}
    return TimelineEntry(at, "log", str(line["message"]), detail)


class FunctionLogFile(FunctionLogs):
    """The log file a served local runtime writes (one JSON object per line)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def lines_for(self, action_intent_id: str, since: datetime) -> list[TimelineEntry]:
        if not self._path.exists():
            return []
        entries = []
        with self._path.open(encoding="utf-8", errors="replace") as lines:
            for raw in lines:
                if action_intent_id not in raw:  # cheap pre-filter before parsing JSON
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                entry = _log_entry(line, action_intent_id) if isinstance(line, dict) else None
                if entry is not None and entry.at >= since:
                    entries.append(entry)
        return entries


class CloudWatchFunctionLogs(FunctionLogs):
    """The stack's function log groups, searched with a JSON filter pattern on the intent id."""

    MAX_EVENTS = 500

    def __init__(self, client: ClientFactory, stack_name: str) -> None:
        self._client = client
        self._stack_name = stack_name

    def _log_groups(self) -> list[str]:
        """Each function's log group: the one the template gives it (``<Function>LogGroup``, wired by its
        LoggingConfig), else Lambda's default ``/aws/lambda/<function name>``."""
        cloudformation = self._client("cloudformation")
        functions: dict[str, str] = {}
        groups: dict[str, str] = {}
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=self._stack_name):
            for resource in page["StackResourceSummaries"]:
                logical_id, physical_id = resource["LogicalResourceId"], resource["PhysicalResourceId"]
                if resource["ResourceType"] == "AWS::Lambda::Function":
                    functions[logical_id] = physical_id
                elif resource["ResourceType"] == "AWS::Logs::LogGroup":
                    groups[logical_id] = physical_id
        return [
            groups.get(f"{logical_id}LogGroup", f"/aws/lambda/{name}")
            for logical_id, name in functions.items()
        ]

    def lines_for(self, action_intent_id: str, since: datetime) -> list[TimelineEntry]:
        logs = self._client("logs")
        pattern = f'{{ $.action_intent_id = "{action_intent_id}" }}'  # the id is a checked Identifier
        entries: list[TimelineEntry] = []
        for group in self._log_groups():
            paginator = logs.get_paginator("filter_log_events")
            pages = paginator.paginate(
                logGroupName=group,
                filterPattern=pattern,
                startTime=int(since.timestamp() * 1000),
                PaginationConfig={"MaxItems": self.MAX_EVENTS},
            )
            try:
                for page in pages:
                    for event in page.get("events", []):
                        try:
                            line = json.loads(event["message"])
                        except ValueError:
                            continue
                        entry = _log_entry(line, action_intent_id) if isinstance(line, dict) else None
                        if entry is not None:
                            entries.append(entry)
            except logs.exceptions.ResourceNotFoundException:
                continue  # a function that never ran has no log group yet
        return entries


def execution_timeline(ops: Operations, arn: str) -> list[TimelineEntry]:
    """The states an execution entered and left (with durations), its failures and its end."""
    sfn = ops.client("stepfunctions")
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events += page["events"]
    name = arn.rsplit(":", 1)[-1]
    entered: dict[str, datetime] = {}
    timeline = []
    for event in events:
        at, kind = event["timestamp"], event["type"]
        if "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"]["name"]
            entered[state] = at
            timeline.append(TimelineEntry(at, "state", f"entered {state}", {"execution": name}))
        elif "stateExitedEventDetails" in event:
            state = event["stateExitedEventDetails"]["name"]
            took = (at - entered[state]).total_seconds() * 1000 if state in entered else None
            detail = {"execution": name} | ({"duration_ms": round(took)} if took is not None else {})
            timeline.append(TimelineEntry(at, "state", f"left {state}", detail))
        elif kind.endswith("Failed") or kind.endswith("TimedOut") or kind.endswith("Aborted"):
            details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            error = {k: details[k] for k in ("error",) if k in details}
            timeline.append(TimelineEntry(at, "state", kind, {"execution": name} | error))
        elif kind in {"ExecutionStarted", "ExecutionSucceeded"}:
            timeline.append(TimelineEntry(at, "state", kind, {"execution": name}))
    return timeline


def _executions_on_record(
    ops: Operations, tenant_id: str, account_id: str, action_intent_id: str, entries: list[LedgerEntry]
) -> list[str]:
    """The executions the records name: the attempt's, and those of approvals that ran nothing.

    Found from the records rather than by listing the state machine's executions, so the cost does not
    grow with the stack's history (a duplicate approval's execution, which writes nothing, is left out).
    """
    machine = ops.outputs["ExecutionStateMachineArn"]
    prefix = machine.replace(":stateMachine:", ":execution:", 1) + ":"
    arns = [f"{prefix}{e.execution_name}" for e in entries if e.execution_name]
    attempt = ops.attempt(tenant_id, account_id, action_intent_id)
    if attempt is not None and attempt.execution_arn and attempt.execution_arn not in arns:
        arns.insert(0, attempt.execution_arn)
    return arns


def history(
    ops: Operations, tenant_id: str, account_id: str, action_intent_id: str, logs: FunctionLogs
) -> list[TimelineEntry]:
    """One intent's story in time order: its executions' states, its ledger and every function's log."""
    intent = ops.known_intent(tenant_id, account_id, action_intent_id)
    timeline = [
        TimelineEntry(
            intent.approval_timestamp,
            "intent",
            f"approved {intent.action_type}",
            {"approved_by": intent.approved_by, "expires_at": intent.expires_at.isoformat()},
        )
    ]
    entries = ops.ledger_entries(tenant_id, action_intent_id)
    for arn in _executions_on_record(ops, tenant_id, account_id, action_intent_id, entries):
        timeline += execution_timeline(ops, arn)
    for entry in entries:
        detail = {"attempt": entry.attempt_count} | {k: str(v) for k, v in entry.details.items()}
        timeline.append(TimelineEntry(entry.occurred_at, "ledger", entry.event_type.value, detail))
    timeline += logs.lines_for(action_intent_id, since=intent.approval_timestamp - timedelta(minutes=5))
    return sorted(timeline, key=lambda e: e.at)
