"""PrepareExecution: resolve what was approved into one tool call and take the intent's lease.

The first of the three billed states. Everything is validated before anything is written; then the lease
and the EXECUTION_STARTED ledger entry are one transaction. A duplicate start (another live execution
holds the lease, or the intent finished) raises DuplicateStartError, which the state machine catches into
a Succeed state: two transitions, nothing written.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from execution_core.contracts import PreparedExecution, PrepareRequest, ToolCall, tool_namespace
from execution_core.errors import (
    ConfigurationError,
    DuplicateStartError,
    IntentExpiredError,
    IntentNotFoundError,
    StateConflictError,
)
from execution_core.models.common import utc_now
from execution_core.models.execution import AttemptStatus, ExecutionAttempt
from execution_core.models.intent import ActionIntent
from execution_core.models.ledger import LedgerEntry, LedgerEventType
from execution_core.models.registry import ActionTypeRegistryEntry
from execution_core.repositories.attempts import ExecutionAttemptRepository, HolderRunning
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.registry import ActionTypeRegistryRepository
from execution_core.services.deterministic_ids import idempotency_key, lease_id_for
from execution_core.services.parameters import map_parameters


@dataclass
class CachedRegistry:
    """Published registry versions are immutable, so a container keeps every version it has read.

    Only found versions are cached: a version missing now may be published a moment later.
    """

    repository: ActionTypeRegistryRepository
    _cache: dict[tuple[str, int], ActionTypeRegistryEntry] = field(default_factory=dict)

    def require(self, action_type: str, version: int) -> ActionTypeRegistryEntry:
        cached = self._cache.get((action_type, version))
        if cached is None:
            cached = self.repository.require(action_type, version)
            self._cache[(action_type, version)] = cached
        return cached


@dataclass(frozen=True)
class ExecutionPreparer:
    intents: ActionIntentRepository
    registry: CachedRegistry
    attempts: ExecutionAttemptRepository
    ledger: LedgerRepository
    holder_running: HolderRunning
    adapters: Mapping[str, str]  # tool namespace ("internal", "crm") -> adapter function ARN
    lease_seconds: int
    clock: Callable[[], datetime] = utc_now

    def prepare(self, request: PrepareRequest) -> PreparedExecution:
        detail = request.event.detail
        intent = self.intents.get(detail.tenant_id, detail.account_id, detail.action_intent_id)
        if intent is None:
            raise IntentNotFoundError()
        if (intent.tenant_id, intent.account_id, intent.action_intent_id) != (
            detail.tenant_id,
            detail.account_id,
            detail.action_intent_id,
        ):
            raise StateConflictError("The stored intent does not match its own key")
        if int(self.clock().timestamp()) >= intent.expires_at_epoch:
            raise IntentExpiredError()  # fail fast; the adapter checks again right before the effect
        entry = self.registry.require(intent.action_type, intent.registry_version)
        adapter = self.adapters.get(tool_namespace(entry.tool_name))
        if adapter is None:
            raise ConfigurationError(f"no adapter function is configured for tool {entry.tool_name}")
        now = self.clock()
        prepared = prepared_execution(
            intent, entry, execution_id=request.execution_id, started_at=now, adapter_function=adapter
        )
        lease = self.attempts.acquire_lease(
            lease_claim(prepared, now, self.lease_seconds, approved_at=intent.approval_timestamp),
            started_entry=self.ledger.ledger_put_item(started_entry(prepared)),
            holder_running=self.holder_running,
        )
        if not lease.acquired:
            raise DuplicateStartError()
        # A re-entered or taken-over lease keeps its first start time and counts the takeovers.
        return prepared.model_copy(
            update={"attempt_count": lease.attempt.attempt_count, "started_at": lease.attempt.started_at}
        )


def prepared_execution(
    intent: ActionIntent,
    entry: ActionTypeRegistryEntry,
    *,
    execution_id: str,
    started_at: datetime,
    adapter_function: str,
) -> PreparedExecution:
    """What Prepare hands on for ``intent`` under ``entry``: the mapped tool call and the idempotency key
    (over the action type and the mapped parameters), for the first attempt of ``execution_id``."""
    tool = ToolCall(
        tool_name=entry.tool_name,
        tool_schema_version=entry.tool_schema_version,
        registry_version=entry.registry_version,
        parameters=map_parameters(entry.parameter_mapping, intent.parameters),
    )
    key = idempotency_key(
        tenant_id=intent.tenant_id,
        account_id=intent.account_id,
        action_intent_id=intent.action_intent_id,
        action_type=intent.action_type,
        tool_name=tool.tool_name,
        registry_version=tool.registry_version,
        parameters=tool.parameters,
    )
    return PreparedExecution(
        action_intent_id=intent.action_intent_id,
        tenant_id=intent.tenant_id,
        account_id=intent.account_id,
        execution_id=execution_id,
        lease_id=lease_id_for(execution_id),
        attempt_count=1,
        action_type=intent.action_type,
        trace_id=intent.trace_id,
        original_decision_id=intent.original_decision_id,
        expires_at_epoch=intent.expires_at_epoch,
        started_at=started_at,
        idempotency_key=key,
        tool=tool,
        adapter_function=adapter_function,
    )


def lease_claim(
    prepared: PreparedExecution, now: datetime, lease_seconds: int, *, approved_at: datetime | None = None
) -> ExecutionAttempt:
    """The RUNNING attempt a prepared execution claims: everything later steps verify against (and the
    intent's approval time, so the status API labels a list row from the attempt alone)."""
    return ExecutionAttempt(
        action_intent_id=prepared.action_intent_id,
        tenant_id=prepared.tenant_id,
        account_id=prepared.account_id,
        status=AttemptStatus.RUNNING,
        attempt_count=1,
        lease_id=prepared.lease_id,
        lease_expires_at=int(now.timestamp()) + lease_seconds,
        started_at=now,
        updated_at=now,
        trace_id=prepared.trace_id,
        execution_arn=prepared.execution_id,
        idempotency_key=prepared.idempotency_key,
        action_type=prepared.action_type,
        original_decision_id=prepared.original_decision_id,
        tool_name=prepared.tool.tool_name,
        tool_schema_version=prepared.tool.tool_schema_version,
        registry_version=prepared.tool.registry_version,
        adapter_function=prepared.adapter_function,
        expires_at_epoch=prepared.expires_at_epoch,
        approved_at=approved_at,
    )


def started_entry(prepared: PreparedExecution) -> LedgerEntry:
    """EXECUTION_STARTED, keyed by (intent, event type): a retried or taken-over start adds nothing."""
    return LedgerEntry(
        tenant_id=prepared.tenant_id,
        account_id=prepared.account_id,
        action_intent_id=prepared.action_intent_id,
        event_type=LedgerEventType.EXECUTION_STARTED,
        occurred_at=prepared.started_at,
        trace_id=prepared.trace_id,
        attempt_count=1,
        details={
            "action_type": prepared.action_type,
            "registry_version": prepared.tool.registry_version,
            "tool_name": prepared.tool.tool_name,
            "original_decision_id": prepared.original_decision_id,
        },
    )
