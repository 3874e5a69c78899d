"""Re-authorization of every side-effect attempt, committed in the same transaction as the effect.

Right before an adapter writes (retries included), the write commits only together with ConditionChecks
on the stored state: the global and tenant kill switches (fail closed), and that this execution still
holds the intent's lease with this idempotency key before the intent expires. Nothing in the step payload
is trusted: a forged or stale payload cannot pass checks made against the table.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from execution_core.contracts import PreparedExecution
from execution_core.errors import (
    ExecutionError,
    IntentExpiredError,
    KillSwitchEnabledError,
    LeaseNotHeldError,
    StateConflictError,
    TransactionConditionFailedError,
)
from execution_core.models.common import utc_now
from execution_core.models.execution import AttemptStatus
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.dynamo import Item, TransactItem, transact_write
from execution_core.repositories.tenants import TenantRepository
from execution_core.settings import AuthorizationSettings

_GLOBAL, _TENANT, _LEASE, _EFFECT = range(4)


@dataclass(frozen=True)
class EffectAuthorization:
    client: Any  # the DynamoDB client the repositories share: one transaction spans their tables
    tenants: TenantRepository
    attempts: ExecutionAttemptRepository
    clock: Callable[[], datetime] = utc_now

    def commit(self, prepared: PreparedExecution, effect_write: TransactItem) -> Item | None:
        """Commit ``effect_write`` (a conditional Put) only if this execution may act now.

        Returns None when it was written, or the stored item when the effect already exists (the caller
        replays it: the effect happened, whatever the switches say now). Raises the reason otherwise:
        LeaseNotHeldError, IntentExpiredError or KillSwitchEnabledError, in that order of precedence.
        """
        now_epoch = int(self.clock().timestamp())
        entries = [
            *self.tenants.kill_switch_checks(prepared.tenant_id, prepared.action_type),
            self.attempts.lease_held_check(
                prepared.tenant_id,
                prepared.account_id,
                prepared.action_intent_id,
                lease_id=prepared.lease_id,
                idempotency_key=prepared.idempotency_key,
                now_epoch=now_epoch,
            ),
            effect_write,
        ]
        try:
            transact_write(self.client, entries)
        except TransactionConditionFailedError as cancelled:
            return self._existing_or_raise(cancelled, prepared, now_epoch)
        return None

    def stopped(self, tenant_id: str, action_type: str | None) -> bool:
        """A read of the same switches, for lookups made outside the pipeline (fail closed: unreadable or
        unknown means stopped)."""
        try:
            state = self.tenants.get_kill_switch_state(tenant_id)
        except ExecutionError:
            return True
        return (
            state.global_switch.enabled
            or not state.tenant_execution_enabled
            or (action_type is not None and action_type in state.disabled_action_types)
        )

    def _existing_or_raise(
        self, cancelled: TransactionConditionFailedError, prepared: PreparedExecution, now_epoch: int
    ) -> Item:
        if cancelled.failed(_LEASE) and not self._holds_lease(cancelled.items[_LEASE], prepared):
            raise LeaseNotHeldError()
        if cancelled.failed(_EFFECT):
            existing = cancelled.items[_EFFECT]
            if existing is None:
                raise StateConflictError("The effect's record exists but could not be read back")
            return existing
        if cancelled.failed(_LEASE):
            raise IntentExpiredError()
        if cancelled.failed(_GLOBAL):
            raise KillSwitchEnabledError("Execution is stopped for all tenants (global kill switch)")
        if cancelled.failed(_TENANT):
            reason = TenantRepository.explain_tenant_check(cancelled.items[_TENANT], prepared.action_type)
            raise KillSwitchEnabledError(reason)
        raise StateConflictError("The side effect's transaction was refused for an unknown reason")

    def _holds_lease(self, item: Item | None, prepared: PreparedExecution) -> bool:
        """The lease check failed: was it the lease (or key) itself, or only the expiry?"""
        if item is None:
            return False
        attempt = self.attempts.parse_item(item)
        return (
            attempt.status is AttemptStatus.RUNNING
            and attempt.lease_id == prepared.lease_id
            and attempt.idempotency_key == prepared.idempotency_key
        )


def build_effect_authorization(dynamodb: Any, settings: AuthorizationSettings) -> EffectAuthorization:
    """The adapters' container-scoped wiring of the re-authorization (one client: one transaction)."""
    return EffectAuthorization(
        client=dynamodb,
        tenants=TenantRepository(dynamodb, settings.tenants_table_name),
        attempts=ExecutionAttemptRepository(dynamodb, settings.execution_attempts_table_name),
    )
