"""Operator actions against a stack, local or deployed: everything goes through the AWS APIs and the
shared package's repositories, found from the stack's outputs.

Used by the local demo, the tests and the operator CLI (`execctl`).
"""

from __future__ import annotations

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
from execution_core.models.tenant import GlobalKillSwitch, TenantConfig
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
from local_runtime.template import PROJECT_ROOT

REGISTRY_DEFINITIONS = PROJECT_ROOT / "registry" / "action_types.json"
ClientFactory = Callable[[str], Any]
TERMINAL_EXECUTION_STATES = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


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

    def set_global_stop(self, enabled: bool, reason: str | None = None, by: str = "operator") -> None:
        self.tenants.set_global_kill_switch(
            GlobalKillSwitch(enabled=enabled, reason=reason, updated_at=utc_now(), updated_by=by)
        )

    def crm_secret_name(self, tenant_id: str, account_id: str) -> str:
        return f"{self.stack_name}/crm/{tenant_id}/{account_id}"

    def connect_crm(self, tenant_id: str, account_id: str, instance_url: str, access_token: str) -> None:
        """Store the CRM credential in Secrets Manager and point the connector config at it."""
        secrets = self._client("secretsmanager")
        name = self.crm_secret_name(tenant_id, account_id)
        value = json.dumps({"access_token": access_token})
        try:
            secrets.create_secret(Name=name, SecretString=value)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=name, SecretString=value)
        self.connectors.put(
            ConnectorConfig(
                tenant_id=tenant_id,
                account_id=account_id,
                connector_type=ConnectorType.CRM,
                instance_url=instance_url,
                secret_id=name,
                updated_at=utc_now(),
            )
        )

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

    def set_tenant_execution(self, tenant_id: str, enabled: bool) -> None:
        self.tenants.set_execution_enabled(tenant_id, enabled, utc_now())

    def set_action_type_enabled(self, tenant_id: str, action_type: str, enabled: bool) -> list[str]:
        """Switch one action type for one tenant; returns the tenant's disabled action types after."""
        if self.registry.latest(action_type) is None:
            raise ValueError(f"unknown action type {action_type!r}: it is not in the registry")
        config = self.tenants.get_config(tenant_id)
        if config is None:
            raise ValueError(f"unknown tenant {tenant_id!r}: it has no configuration")
        disabled = set(config.disabled_action_types)
        disabled = disabled - {action_type} if enabled else disabled | {action_type}
        self.tenants.put_config(
            config.model_copy(update={"disabled_action_types": sorted(disabled), "updated_at": utc_now()})
        )
        return sorted(disabled)

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
            FunctionName=self.outputs["ReconcilerFunctionName"],
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
