"""Operators' kill-switch changes: each commits together with its audit record, or not at all.

The pipeline reads the switches right before every effect (see TenantRepository.kill_switch_checks);
this is the writing side. A change names who made it and why, and is refused when the switch is not in
the state the operator saw (a tenant that does not exist is never created by a change).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from execution_core.errors import StateConflictError, TransactionConditionFailedError
from execution_core.models.tenant import GlobalKillSwitch, SwitchChange, SwitchScope, TenantConfig
from execution_core.repositories.dynamo import TransactItem, transact_write
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.tenants import TenantRepository


@dataclass(frozen=True)
class SwitchChangeResult:
    """What a change request did: ``change`` is None when the switch already was as asked."""

    stopped_before: bool
    stopped_after: bool
    change: SwitchChange | None


class SwitchChanges:
    """Change a kill switch and append who/why/before/after to the operator audit trail atomically."""

    def __init__(self, client: Any, tenants: TenantRepository, ledger: LedgerRepository) -> None:
        self._client = client
        self._tenants = tenants
        self._ledger = ledger

    def set_global_stop(self, stop: bool, *, by: str, reason: str, now: datetime) -> SwitchChangeResult:
        was = self._tenants.get_global_kill_switch().enabled
        if was == stop:
            return SwitchChangeResult(was, stop, None)
        switch = GlobalKillSwitch(enabled=stop, reason=reason, updated_at=now, updated_by=by)
        change = self._change(SwitchScope.GLOBAL, was, stop, by=by, reason=reason, now=now)
        self._commit(self._tenants.global_switch_put_item(switch, was_enabled=was), change)
        return SwitchChangeResult(was, stop, change)

    def set_tenant_stop(
        self, config: TenantConfig, stop: bool, *, by: str, reason: str, now: datetime
    ) -> SwitchChangeResult:
        was = not config.execution_enabled
        if was == stop:
            return SwitchChangeResult(was, stop, None)
        change = self._change(
            SwitchScope.TENANT, was, stop, by=by, reason=reason, now=now, tenant_id=config.tenant_id
        )
        item = self._tenants.tenant_execution_update_item(
            config.tenant_id, enabled=not stop, was_enabled=config.execution_enabled, now=now
        )
        self._commit(item, change)
        return SwitchChangeResult(was, stop, change)

    def set_action_type_disabled(
        self, config: TenantConfig, action_type: str, disabled: bool, *, by: str, reason: str, now: datetime
    ) -> SwitchChangeResult:
        was = action_type in config.disabled_action_types
        if was == disabled:
            return SwitchChangeResult(was, disabled, None)
        change = self._change(
            SwitchScope.ACTION_TYPE,
            was,
            disabled,
            by=by,
            reason=reason,
            now=now,
            tenant_id=config.tenant_id,
            action_type=action_type,
        )
        item = self._tenants.action_type_update_item(config, action_type, disabled=disabled, now=now)
        self._commit(item, change)
        return SwitchChangeResult(was, disabled, change)

    @staticmethod
    def _change(
        scope: SwitchScope,
        was: bool,
        stop: bool,
        *,
        by: str,
        reason: str,
        now: datetime,
        tenant_id: str | None = None,
        action_type: str | None = None,
    ) -> SwitchChange:
        return SwitchChange(
            change_id=uuid.uuid4().hex,
            scope=scope,
            tenant_id=tenant_id,
            action_type=action_type,
            stopped_before=was,
            stopped_after=stop,
            changed_by=by,
            reason=reason,
            changed_at=now,
        )

    def _commit(self, switch_item: TransactItem, change: SwitchChange) -> None:
        try:
            transact_write(self._client, [switch_item, self._ledger.switch_change_put_item(change)])
        except TransactionConditionFailedError:
            raise StateConflictError(
                "the switch changed while this change was being made (or the tenant was removed); "
                "nothing was changed: look at it again and retry"
            ) from None
