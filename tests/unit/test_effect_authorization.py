"""Re-authorization of a side effect (services/authorization.py) against in-memory fakes of the two
repositories and of the DynamoDB client: which stored state lets an effect commit, which refusal wins when
several checks fail, and that an unreadable or unknown switch state means stopped (fail closed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from execution_core.contracts import PreparedExecution, ToolCall
from execution_core.errors import (
    DataStoreUnavailableError,
    IntentExpiredError,
    KillSwitchEnabledError,
    LeaseNotHeldError,
    StateConflictError,
)
from execution_core.models import AttemptStatus, GlobalKillSwitch
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.tenants import KillSwitchState, TenantRepository
from execution_core.services.authorization import EffectAuthorization
from execution_core.services.deterministic_ids import idempotency_key, lease_id_for
from tests.support import factories
from tests.support.factories import NOW

GLOBAL, TENANT, LEASE, EFFECT = (
    {"ConditionCheck": {"check": name}} for name in ("global", "tenant", "lease", "effect")
)
OK, FAILED = "None", "ConditionalCheckFailed"


def _prepared() -> PreparedExecution:
    execution_id = "arn:aws:states:us-east-1:123456789012:execution:bel-execution:run-1"
    parameters = {"subject": "Call back"}
    tool = ToolCall(
        tool_name="crm.create_task", tool_schema_version="v60.0", registry_version=1, parameters=parameters
    )
    return PreparedExecution(
        action_intent_id="ai-1",
        tenant_id="t-1",
        account_id="acct-1",
        execution_id=execution_id,
        lease_id=lease_id_for(execution_id),
        attempt_count=1,
        action_type="CREATE_CRM_TASK",
        trace_id="trace-1",
        expires_at_epoch=int((NOW + timedelta(hours=1)).timestamp()),
        started_at=NOW,
        idempotency_key=idempotency_key(
            tenant_id="t-1",
            account_id="acct-1",
            action_intent_id="ai-1",
            action_type="CREATE_CRM_TASK",
            tool_name="crm.create_task",
            registry_version=1,
            parameters=parameters,
        ),
        tool=tool,
        adapter_function="arn:aws:lambda:us-east-1:123456789012:function:bel-CrmAdapterFunction",
    )


PREPARED = _prepared()


@dataclass
class FakeDynamo:
    """transact_write_items as DynamoDB answers it: accepted, or cancelled with one reason per entry."""

    reasons: list[str] | None = None
    items: list[dict[str, Any] | None] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        if self.reasons is None:
            return {}
        cancellations = [
            {"Code": code, **({"Item": item} if item else {})}
            for code, item in zip(self.reasons, self.items or [None] * len(self.reasons), strict=True)
        ]
        error = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}
        raise ClientError({**error, "CancellationReasons": cancellations}, "TransactWriteItems")


@dataclass
class FakeTenants:
    state: KillSwitchState | Exception = field(
        default_factory=lambda: KillSwitchState(GlobalKillSwitch(enabled=False), True, frozenset())
    )

    def kill_switch_checks(self, tenant_id: str, action_type: str) -> list[dict[str, Any]]:
        return [GLOBAL, TENANT]

    def get_kill_switch_state(self, tenant_id: str) -> KillSwitchState:
        if isinstance(self.state, Exception):
            raise self.state
        return self.state


class FakeAttempts:
    """Stored attempts are kept as the model itself: the fake's "item" is {"attempt": ExecutionAttempt}."""

    def lease_held_check(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return LEASE

    def parse_item(self, item: dict[str, Any]) -> Any:
        return item["attempt"]


def _authorization(client: FakeDynamo, tenants: FakeTenants | None = None) -> EffectAuthorization:
    return EffectAuthorization(
        client=client,
        tenants=cast(TenantRepository, tenants or FakeTenants()),
        attempts=cast(ExecutionAttemptRepository, FakeAttempts()),
        clock=lambda: NOW,
    )


def _held(**overrides: Any) -> dict[str, Any]:
    """The stored attempt the lease check returns: this execution's running attempt unless overridden."""
    fields = {
        "status": AttemptStatus.RUNNING,
        "lease_id": PREPARED.lease_id,
        "idempotency_key": PREPARED.idempotency_key,
    }
    return {"attempt": factories.attempt(**(fields | overrides))}


def test_an_allowed_effect_commits_with_every_check_in_one_transaction() -> None:
    client = FakeDynamo()
    assert _authorization(client).commit(PREPARED, EFFECT) is None
    assert client.requests == [{"TransactItems": [GLOBAL, TENANT, LEASE, EFFECT]}]


def test_an_existing_effect_is_returned_to_replay_even_when_a_switch_is_now_on() -> None:
    stored = {"pk": {"S": "effect"}}
    client = FakeDynamo(reasons=[FAILED, OK, OK, FAILED], items=[None, None, None, stored])
    assert _authorization(client).commit(PREPARED, EFFECT) == stored


def test_an_existing_effect_that_cannot_be_read_back_is_a_conflict() -> None:
    client = FakeDynamo(reasons=[OK, OK, OK, FAILED])
    with pytest.raises(StateConflictError, match="could not be read back"):
        _authorization(client).commit(PREPARED, EFFECT)


@pytest.mark.parametrize(
    "held",
    [
        None,  # the attempt is gone
        _held(lease_id="someone-else"),  # another execution took the lease
        _held(idempotency_key="key-of-another-payload"),  # a forged or stale payload
        _held(status=AttemptStatus.SUCCEEDED, completed_at=NOW),  # the attempt already ended
    ],
    ids=["no-attempt", "other-lease", "other-key", "ended"],
)
def test_a_lost_lease_wins_over_an_existing_effect_and_every_switch(held: dict[str, Any] | None) -> None:
    client = FakeDynamo(
        reasons=[FAILED, FAILED, FAILED, FAILED], items=[None, None, held, {"pk": {"S": "x"}}]
    )
    with pytest.raises(LeaseNotHeldError):
        _authorization(client).commit(PREPARED, EFFECT)


def test_a_held_lease_whose_check_failed_means_the_intent_expired() -> None:
    client = FakeDynamo(reasons=[FAILED, OK, FAILED, OK], items=[None, None, _held(), None])
    with pytest.raises(IntentExpiredError):
        _authorization(client).commit(PREPARED, EFFECT)


def test_the_global_switch_is_named_before_the_tenant_switch() -> None:
    client = FakeDynamo(reasons=[FAILED, FAILED, OK, OK])
    with pytest.raises(KillSwitchEnabledError, match="global kill switch"):
        _authorization(client).commit(PREPARED, EFFECT)


@pytest.mark.parametrize(
    ("tenant_item", "reason"),
    [
        (None, "no execution configuration"),
        ({"execution_enabled": {"BOOL": False}}, "disabled for this tenant"),
        (
            {"execution_enabled": {"BOOL": True}, "disabled_action_types": {"SS": ["CREATE_CRM_TASK"]}},
            "action type is disabled",
        ),
    ],
)
def test_a_tenant_refusal_says_which_tenant_switch(tenant_item: dict[str, Any] | None, reason: str) -> None:
    client = FakeDynamo(reasons=[OK, FAILED, OK, OK], items=[None, tenant_item, None, None])
    with pytest.raises(KillSwitchEnabledError, match=reason):
        _authorization(client).commit(PREPARED, EFFECT)


def test_a_cancellation_for_no_known_reason_is_a_conflict_not_a_success() -> None:
    client = FakeDynamo(reasons=[OK, OK, OK, OK, FAILED])  # only an entry the service did not add failed
    with pytest.raises(StateConflictError, match="unknown reason"):
        _authorization(client).commit(PREPARED, EFFECT)


def test_a_transient_cancellation_is_retryable_and_not_a_refusal() -> None:
    client = FakeDynamo(reasons=[OK, OK, "TransactionConflict", OK])
    with pytest.raises(DataStoreUnavailableError):
        _authorization(client).commit(PREPARED, EFFECT)


@pytest.mark.parametrize(
    ("state", "stopped"),
    [
        (KillSwitchState(GlobalKillSwitch(enabled=False), True, frozenset()), False),
        (KillSwitchState(GlobalKillSwitch(enabled=False), True, frozenset({"OTHER"})), False),
        (KillSwitchState(GlobalKillSwitch(enabled=True), True, frozenset()), True),
        (KillSwitchState(GlobalKillSwitch(enabled=False), False, frozenset()), True),
        (KillSwitchState(GlobalKillSwitch(enabled=False), None, frozenset()), True),  # unknown tenant
        (KillSwitchState(GlobalKillSwitch(enabled=False), True, frozenset({"CREATE_CRM_TASK"})), True),
        (DataStoreUnavailableError("switches unreadable"), True),  # fail closed
    ],
    ids=["running", "other-type-off", "global", "tenant", "unknown-tenant", "type-off", "unreadable"],
)
def test_a_lookup_outside_the_pipeline_is_stopped_by_any_switch_and_by_doubt(
    state: KillSwitchState | Exception, stopped: bool
) -> None:
    authorization = _authorization(FakeDynamo(), FakeTenants(state))
    assert authorization.stopped("t-1", "CREATE_CRM_TASK") is stopped


def test_a_lookup_for_no_action_type_ignores_the_per_type_switches() -> None:
    state = KillSwitchState(GlobalKillSwitch(enabled=False), True, frozenset({"CREATE_CRM_TASK"}))
    assert _authorization(FakeDynamo(), FakeTenants(state)).stopped("t-1", None) is False


def test_the_clock_is_the_services_not_the_payloads() -> None:
    # The lease check is built from the service's clock: a payload cannot move "now".
    seen: list[int] = []

    class Attempts(FakeAttempts):
        def lease_held_check(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            seen.append(kwargs["now_epoch"])
            return LEASE

    later = datetime(2030, 1, 1, tzinfo=UTC)
    authorization = EffectAuthorization(
        client=FakeDynamo(),
        tenants=cast(TenantRepository, FakeTenants()),
        attempts=cast(ExecutionAttemptRepository, Attempts()),
        clock=lambda: later,
    )
    authorization.commit(PREPARED, EFFECT)
    assert seen == [int(later.timestamp())]
