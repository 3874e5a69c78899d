"""Operators' kill-switch changes (services/switches.py) against in-memory fakes of the tenants and ledger
repositories and of the DynamoDB client: a change that changes nothing writes nothing, every real change
commits the switch and its audit record in one transaction, and a switch moved meanwhile is a conflict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from execution_core.errors import StateConflictError
from execution_core.models import GlobalKillSwitch, SwitchChange, SwitchScope, TenantConfig
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.tenants import TenantRepository
from execution_core.services.switches import SwitchChanges
from tests.support.factories import NOW


@dataclass
class FakeDynamo:
    """transact_write_items: accepted, or cancelled because the switch's condition failed."""

    refuse: bool = False
    requests: list[list[dict[str, Any]]] = field(default_factory=list)

    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request["TransactItems"])
        if self.refuse:
            reasons = [{"Code": "ConditionalCheckFailed"}, {"Code": "None"}]
            error = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}
            raise ClientError({**error, "CancellationReasons": reasons}, "TransactWriteItems")
        return {}


@dataclass
class FakeTenants:
    """Builds transaction entries that say what they would write, so a test can read them back."""

    global_switch: GlobalKillSwitch = field(default_factory=lambda: GlobalKillSwitch(enabled=False))

    def get_global_kill_switch(self) -> GlobalKillSwitch:
        return self.global_switch

    def global_switch_put_item(self, switch: GlobalKillSwitch, *, was_enabled: bool) -> dict[str, Any]:
        return {"global": switch, "was_enabled": was_enabled}

    def tenant_execution_update_item(
        self, tenant_id: str, *, enabled: bool, was_enabled: bool, now: Any
    ) -> dict[str, Any]:
        return {"tenant": tenant_id, "enabled": enabled, "was_enabled": was_enabled}

    def action_type_update_item(
        self, config: TenantConfig, action_type: str, *, disabled: bool, now: Any
    ) -> dict[str, Any]:
        return {"tenant": config.tenant_id, "action_type": action_type, "disabled": disabled}


class FakeLedger:
    def switch_change_put_item(self, change: SwitchChange) -> dict[str, Any]:
        return {"audit": change}


def _changes(client: FakeDynamo, tenants: FakeTenants | None = None) -> SwitchChanges:
    return SwitchChanges(
        client, cast(TenantRepository, tenants or FakeTenants()), cast(LedgerRepository, FakeLedger())
    )


def _audit(client: FakeDynamo) -> SwitchChange:
    [[_, audit]] = client.requests
    return cast(SwitchChange, audit["audit"])


RUNNING = TenantConfig(tenant_id="t-1", execution_enabled=True)
STOPPED = TenantConfig(tenant_id="t-1", execution_enabled=False, disabled_action_types=["CREATE_CRM_TASK"])


def test_a_global_stop_commits_the_switch_with_who_and_why_and_its_audit_record() -> None:
    client = FakeDynamo()
    result = _changes(client).set_global_stop(True, by="ops@example.com", reason="incident 42", now=NOW)

    [[switch, _]] = client.requests
    assert switch == {
        "global": GlobalKillSwitch(
            enabled=True, reason="incident 42", updated_at=NOW, updated_by="ops@example.com"
        ),
        "was_enabled": False,  # the condition: the switch is still as the operator saw it
    }
    audit = _audit(client)
    assert (result.stopped_before, result.stopped_after, result.change) == (False, True, audit)
    assert (audit.scope, audit.tenant_id, audit.action_type) == (SwitchScope.GLOBAL, None, None)
    assert (audit.stopped_before, audit.stopped_after) == (False, True)
    assert (audit.changed_by, audit.reason, audit.changed_at) == ("ops@example.com", "incident 42", NOW)


def test_releasing_the_global_stop_records_the_way_back() -> None:
    client = FakeDynamo()
    tenants = FakeTenants(GlobalKillSwitch(enabled=True))
    result = _changes(client, tenants).set_global_stop(False, by="ops", reason="resolved", now=NOW)
    assert (result.stopped_before, result.stopped_after) == (True, False)
    assert (_audit(client).stopped_before, _audit(client).stopped_after) == (True, False)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.set_global_stop(False, by="ops", reason="r", now=NOW),  # already running
        lambda s: s.set_tenant_stop(RUNNING, False, by="ops", reason="r", now=NOW),
        lambda s: s.set_tenant_stop(STOPPED, True, by="ops", reason="r", now=NOW),
        lambda s: s.set_action_type_disabled(
            RUNNING, "CREATE_CRM_TASK", False, by="ops", reason="r", now=NOW
        ),
        lambda s: s.set_action_type_disabled(STOPPED, "CREATE_CRM_TASK", True, by="ops", reason="r", now=NOW),
    ],
    ids=["global", "tenant-running", "tenant-stopped", "type-enabled", "type-disabled"],
)
def test_a_change_to_the_state_a_switch_already_has_writes_nothing_and_audits_nothing(change: Any) -> None:
    client = FakeDynamo()
    result = change(_changes(client))
    assert result.change is None
    assert result.stopped_before == result.stopped_after
    assert client.requests == []


def test_stopping_a_tenant_disables_it_on_the_condition_it_was_enabled() -> None:
    client = FakeDynamo()
    result = _changes(client).set_tenant_stop(RUNNING, True, by="ops", reason="abuse", now=NOW)
    [[update, _]] = client.requests
    assert update == {"tenant": "t-1", "enabled": False, "was_enabled": True}
    assert (result.stopped_before, result.stopped_after) == (False, True)
    audit = _audit(client)
    assert (audit.scope, audit.tenant_id, audit.action_type) == (SwitchScope.TENANT, "t-1", None)


def test_an_action_type_switch_names_the_type_in_the_update_and_the_audit() -> None:
    client = FakeDynamo()
    result = _changes(client).set_action_type_disabled(
        STOPPED, "CREATE_CRM_TASK", False, by="ops", reason="fixed", now=NOW
    )
    [[update, _]] = client.requests
    assert update == {"tenant": "t-1", "action_type": "CREATE_CRM_TASK", "disabled": False}
    assert (result.stopped_before, result.stopped_after) == (True, False)
    audit = _audit(client)
    assert (audit.scope, audit.tenant_id, audit.action_type) == (
        SwitchScope.ACTION_TYPE,
        "t-1",
        "CREATE_CRM_TASK",
    )


def test_each_change_has_its_own_id() -> None:
    client = FakeDynamo()
    changes = _changes(client)
    first = changes.set_tenant_stop(RUNNING, True, by="ops", reason="a", now=NOW).change
    second = changes.set_tenant_stop(RUNNING, True, by="ops", reason="a", now=NOW).change
    assert first is not None
    assert second is not None
    assert first.change_id != second.change_id


def test_a_switch_moved_meanwhile_is_a_conflict_and_says_nothing_changed() -> None:
    client = FakeDynamo(refuse=True)
    with pytest.raises(StateConflictError, match="nothing was changed"):
        _changes(client).set_tenant_stop(RUNNING, True, by="ops", reason="abuse", now=NOW)
    assert len(client.requests) == 1  # one attempt, not retried blindly over the newer state
