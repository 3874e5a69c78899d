"""StartExecution: resolve what was approved into a tool call and take the intent's lease."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from execution_core.contracts import StartDisposition, StartedExecution, StartRequest, ToolCall
from execution_core.errors import IntentNotFoundError
from execution_core.models.common import utc_now
from execution_core.models.ledger import LedgerEntry, LedgerEventType
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.registry import ActionTypeRegistryRepository
from execution_core.services.identity import idempotency_key, lease_id_for
from execution_core.services.parameters import map_parameters


@dataclass(frozen=True)
class ExecutionStarter:
    intents: ActionIntentRepository
    registry: ActionTypeRegistryRepository
    attempts: ExecutionAttemptRepository
    ledger: LedgerRepository
    lease_seconds: int
    clock: Callable[[], datetime] = utc_now

    def start(self, request: StartRequest) -> StartedExecution:
        """Validate everything before writing anything, then take the lease with one conditional write.

        A lease held by another live execution, or an intent that already finished, is a DUPLICATE:
        this execution stops without touching any record.
        """
        detail = request.event.detail
        intent = self.intents.get(detail.tenant_id, detail.account_id, detail.action_intent_id)
        if intent is None:
            raise IntentNotFoundError()
        entry = self.registry.require(intent.action_type, intent.registry_version)
        tool = ToolCall(
            tool_name=entry.tool_name,
            tool_schema_version=entry.tool_schema_version,
            registry_version=entry.registry_version,
            parameters=map_parameters(entry.parameter_mapping, intent.parameters),
        )
        key = idempotency_key(
            intent.tenant_id,
            intent.account_id,
            intent.action_intent_id,
            tool.tool_name,
            tool.registry_version,
        )
        now = self.clock()
        lease = self.attempts.acquire_lease(
            tenant_id=intent.tenant_id,
            account_id=intent.account_id,
            action_intent_id=intent.action_intent_id,
            lease_id=lease_id_for(request.execution_id),
            trace_id=intent.trace_id,
            now=now,
            lease_seconds=self.lease_seconds,
            execution_arn=request.execution_id,
            idempotency_key=key,
        )
        common = {
            "action_intent_id": intent.action_intent_id,
            "tenant_id": intent.tenant_id,
            "account_id": intent.account_id,
            "execution_id": request.execution_id,
            "trace_id": intent.trace_id,
        }
        if not lease.acquired:
            return StartedExecution(disposition=StartDisposition.DUPLICATE, **common)
        attempt = lease.attempt
        # Deterministic ledger key (intent, event type): a retried or taken-over start adds nothing.
        self.ledger.put(
            LedgerEntry(
                tenant_id=intent.tenant_id,
                account_id=intent.account_id,
                action_intent_id=intent.action_intent_id,
                event_type=LedgerEventType.EXECUTION_STARTED,
                occurred_at=attempt.started_at,
                trace_id=intent.trace_id,
                attempt_count=attempt.attempt_count,
                details={
                    "action_type": intent.action_type,
                    "registry_version": intent.registry_version,
                    "tool_name": tool.tool_name,
                    "original_decision_id": intent.original_decision_id,
                },
            )
        )
        return StartedExecution(
            disposition=StartDisposition.STARTED,
            lease_id=attempt.lease_id,
            attempt_count=attempt.attempt_count,
            action_type=intent.action_type,
            original_decision_id=intent.original_decision_id,
            expires_at_epoch=intent.expires_at_epoch,
            started_at=attempt.started_at,
            idempotency_key=key,
            tool=tool,
            **common,
        )
