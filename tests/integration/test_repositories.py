"""Every repository against tables created from template.yaml in the embedded emulator.

Each test uses fresh tenant ids, so tests share the session's tables without cleanup.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypedDict

import pytest

from execution_core.errors import (
    ErrorClass,
    ErrorCode,
    InvalidInputError,
    RegistryVersionConflictError,
    RegistryVersionNotFoundError,
    StateConflictError,
    TransactionConditionFailedError,
)
from execution_core.models import (
    AttemptStatus,
    ConnectorConfig,
    ExternalWriteRecord,
    ExternalWriteStatus,
    GlobalKillSwitch,
    InternalObject,
    InternalObjectKind,
    LedgerEventType,
    TenantConfig,
)
from execution_core.repositories import (
    ActionIntentRepository,
    ActionTypeRegistryRepository,
    ConnectorConfigRepository,
    ExecutionAttemptRepository,
    ExecutionOutcomeRepository,
    ExternalWriteRepository,
    InternalObjectRepository,
    LeaseOutcome,
    LeaseResult,
    LedgerRepository,
    PublishResult,
    SignalRepository,
    StatusReadRepository,
    TenantRepository,
    transact_write,
)
from execution_core.repositories.dynamo import Item
from execution_core.services.switches import SwitchChanges
from tests.support import factories
from tests.support.factories import NOW, uid

pytestmark = pytest.mark.emulator

LEASE_SECONDS = 300


class IntentIds(TypedDict):
    tenant_id: str
    account_id: str
    action_intent_id: str


@pytest.fixture(scope="module")
def ddb(emulator: Any) -> Any:
    return emulator.client("dynamodb")


@pytest.fixture(scope="module")
def table(emulator: Any) -> Callable[[str], str]:
    return emulator.physical_name  # type: ignore[no-any-return]


@pytest.fixture
def intents(ddb: Any, table: Callable[[str], str]) -> ActionIntentRepository:
    return ActionIntentRepository(ddb, table("ActionIntentsTable"))


@pytest.fixture
def attempts(ddb: Any, table: Callable[[str], str]) -> ExecutionAttemptRepository:
    return ExecutionAttemptRepository(ddb, table("ExecutionAttemptsTable"))


@pytest.fixture
def outcomes(ddb: Any, table: Callable[[str], str]) -> ExecutionOutcomeRepository:
    return ExecutionOutcomeRepository(ddb, table("ExecutionOutcomesTable"))


@pytest.fixture
def ledger(ddb: Any, table: Callable[[str], str]) -> LedgerRepository:
    return LedgerRepository(ddb, table("LedgerTable"))


@pytest.fixture
def signals(ddb: Any, table: Callable[[str], str]) -> SignalRepository:
    return SignalRepository(ddb, table("SignalsTable"))


@pytest.fixture
def tenants(ddb: Any, table: Callable[[str], str]) -> TenantRepository:
    return TenantRepository(ddb, table("TenantsTable"))


@pytest.fixture
def registry(ddb: Any, table: Callable[[str], str]) -> ActionTypeRegistryRepository:
    return ActionTypeRegistryRepository(ddb, table("ActionTypeRegistryTable"))


@pytest.fixture
def external_writes(ddb: Any, table: Callable[[str], str]) -> ExternalWriteRepository:
    return ExternalWriteRepository(ddb, table("ExternalWritesTable"))


@pytest.fixture
def internal_objects(ddb: Any, table: Callable[[str], str]) -> InternalObjectRepository:
    return InternalObjectRepository(ddb, table("InternalObjectsTable"))


@pytest.fixture
def connectors(ddb: Any, table: Callable[[str], str]) -> ConnectorConfigRepository:
    return ConnectorConfigRepository(ddb, table("ConnectorConfigTable"))


@pytest.fixture
def status_reads(ddb: Any, table: Callable[[str], str]) -> StatusReadRepository:
    return StatusReadRepository(
        ddb, table("ActionIntentsTable"), table("ExecutionAttemptsTable"), table("ExecutionOutcomesTable")
    )


# ---------------------------------------------------------------- intents
def test_intent_put_is_conditional_and_round_trips(intents: ActionIntentRepository) -> None:
    intent = factories.intent()
    assert intents.put(intent) is True
    assert intents.get(intent.tenant_id, intent.account_id, intent.action_intent_id) == intent
    changed = intent.model_copy(update={"approved_by": "someone-else"})
    assert intents.put(changed) is False
    assert intents.get(intent.tenant_id, intent.account_id, intent.action_intent_id) == intent


def test_intent_is_invisible_to_other_tenant_and_account(intents: ActionIntentRepository) -> None:
    intent = factories.intent()
    intents.put(intent)
    assert intents.get(uid("t"), intent.account_id, intent.action_intent_id) is None
    assert intents.get(intent.tenant_id, "other-account", intent.action_intent_id) is None


def test_intent_ttl_is_well_after_expiry(intents: ActionIntentRepository, ddb: Any) -> None:
    intent = factories.intent()
    intents.put(intent)
    item = ddb.get_item(
        TableName=intents.table_name, Key=ActionIntentRepository.key(intent.tenant_id, intent.account_id,
                                                                     intent.action_intent_id)
    )["Item"]  # fmt: skip
    assert int(item["ttl"]["N"]) >= intent.expires_at_epoch + 30 * 86400


# ---------------------------------------------------------------- attempts: the lease
Acquire = Callable[..., LeaseResult]


@pytest.fixture
def acquire(attempts: ExecutionAttemptRepository, ledger: LedgerRepository) -> Acquire:
    return lambda ids, lease_id, now=NOW, **kw: _acquire(attempts, ledger, ids, lease_id, now, **kw)


def _acquire(
    repo: ExecutionAttemptRepository,
    ledger: LedgerRepository,
    ids: IntentIds,
    lease_id: str,
    now: datetime = NOW,
    *,
    running: set[str] | None = None,
) -> LeaseResult:
    """Claim the lease as execution ``lease_id``; ``running`` holds the executions still running."""
    claim = factories.attempt(
        **ids,
        lease_id=lease_id,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:m:{lease_id}",
        trace_id="trace-1",
        started_at=now,
        updated_at=now,
        lease_expires_at=int(now.timestamp()) + LEASE_SECONDS,
        idempotency_key="idem-00000001",
    )
    entry = factories.ledger_entry(**ids, event_type="EXECUTION_STARTED", occurred_at=now)
    alive = running or set()
    return repo.acquire_lease(
        claim,
        started_entry=ledger.ledger_put_item(entry),
        holder_running=lambda arn: arn.rsplit(":", 1)[-1] in alive,
    )


def _ids() -> IntentIds:
    return {"tenant_id": uid("t"), "account_id": "acc-1", "action_intent_id": uid("ai")}


def test_lease_and_its_started_entry_are_one_transaction(
    attempts: ExecutionAttemptRepository, ledger: LedgerRepository, acquire: Acquire
) -> None:
    ids = _ids()
    first = acquire(ids, "exec-A")
    assert first.outcome is LeaseOutcome.ACQUIRED
    assert ledger.get(ids["tenant_id"], ids["action_intent_id"], LedgerEventType.EXECUTION_STARTED)


def test_lease_acquired_then_held(attempts: ExecutionAttemptRepository, acquire: Acquire) -> None:
    ids = _ids()
    first = acquire(ids, "exec-A")
    assert first.outcome is LeaseOutcome.ACQUIRED
    assert (first.attempt.attempt_count, first.attempt.status) == (1, AttemptStatus.RUNNING)
    assert attempts.get(**ids) == first.attempt

    second = acquire(ids, "exec-B", NOW + timedelta(seconds=LEASE_SECONDS - 1))
    assert second.outcome is LeaseOutcome.HELD
    assert second.attempt.lease_id == "exec-A"
    assert attempts.get(**ids) == first.attempt  # nothing written


def test_same_lease_reenters_without_writing(attempts: ExecutionAttemptRepository, acquire: Acquire) -> None:
    ids = _ids()
    first = acquire(ids, "exec-A")
    again = acquire(ids, "exec-A", NOW + timedelta(seconds=5))
    assert again.outcome is LeaseOutcome.ACQUIRED
    assert again.reentered
    assert again.attempt == first.attempt


def test_expired_lease_of_a_running_holder_is_never_taken(
    attempts: ExecutionAttemptRepository, acquire: Acquire
) -> None:
    """Time alone never hands an intent to a second execution: the holder must have ended."""
    ids = _ids()
    first = acquire(ids, "exec-A")
    later = NOW + timedelta(seconds=LEASE_SECONDS * 10)
    held = acquire(ids, "exec-B", later, running={"exec-A"})
    assert held.outcome is LeaseOutcome.HELD
    assert attempts.get(**ids) == first.attempt


def test_expired_lease_of_an_ended_holder_is_taken_over(
    attempts: ExecutionAttemptRepository, acquire: Acquire
) -> None:
    ids = _ids()
    acquire(ids, "exec-A")
    later = NOW + timedelta(seconds=LEASE_SECONDS + 1)
    takeover = acquire(ids, "exec-B", later)
    assert takeover.outcome is LeaseOutcome.ACQUIRED
    assert takeover.taken_over
    assert takeover.attempt.attempt_count == 2
    assert takeover.attempt.lease_id == "exec-B"
    assert takeover.attempt.execution_arn is not None
    assert takeover.attempt.execution_arn.endswith("exec-B")
    assert takeover.attempt.lease_expires_at == int(later.timestamp()) + LEASE_SECONDS
    assert takeover.attempt.started_at == NOW  # the listing order keeps the first start
    # The loser of the race (still holding the stale view) cannot take it again: exec-B is running now.
    third = acquire(ids, "exec-C", later + timedelta(seconds=LEASE_SECONDS + 1), running={"exec-B"})
    assert third.outcome is LeaseOutcome.HELD
    assert attempts.get(**ids).lease_id == "exec-B"  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [AttemptStatus.SUCCEEDED, AttemptStatus.FAILED, AttemptStatus.CANCELLED])
def test_terminal_attempt_is_never_overwritten(
    attempts: ExecutionAttemptRepository, ddb: Any, status: AttemptStatus, acquire: Acquire
) -> None:
    ids = _ids()
    acquire(ids, "exec-A")
    finalize = attempts.attempt_finalize_update(
        **ids,
        lease_id="exec-A",
        status=status,
        now=NOW + timedelta(seconds=2),
        error_class=None if status is AttemptStatus.SUCCEEDED else ErrorClass.DOWNSTREAM,
        error_code=None if status is AttemptStatus.SUCCEEDED else ErrorCode.DOWNSTREAM_ERROR,
        error_message=None if status is AttemptStatus.SUCCEEDED else "CRM 503 Bearer abc123secret",
        external_object_refs=[factories.ref()] if status is AttemptStatus.SUCCEEDED else [],
    )
    transact_write(ddb, [finalize])
    final = attempts.get(**ids)
    assert final is not None
    assert final.status is status
    assert final.completed_at == NOW + timedelta(seconds=2)
    assert "abc123secret" not in (final.error_message or "")

    for lease_id, when in [("exec-B", NOW + timedelta(days=1)), ("exec-A", NOW + timedelta(seconds=3))]:
        result = acquire(ids, lease_id, when)
        assert result.outcome is LeaseOutcome.TERMINAL
        assert result.attempt == final
    assert attempts.get(**ids) == final


def test_finalize_requires_the_owning_lease(
    attempts: ExecutionAttemptRepository, ddb: Any, acquire: Acquire
) -> None:
    ids = _ids()
    acquire(ids, "exec-A")
    acquire(ids, "exec-B", NOW + timedelta(seconds=LEASE_SECONDS + 1))  # takeover
    stale = attempts.attempt_finalize_update(
        **ids, lease_id="exec-A", status=AttemptStatus.SUCCEEDED, now=NOW + timedelta(seconds=400)
    )
    with pytest.raises(TransactionConditionFailedError) as info:
        transact_write(ddb, [stale])
    assert info.value.failed(0)
    assert attempts.get(**ids).status is AttemptStatus.RUNNING  # type: ignore[union-attr]


def test_finalize_rejects_running_status(attempts: ExecutionAttemptRepository) -> None:
    with pytest.raises(InvalidInputError):
        attempts.attempt_finalize_update(**_ids(), lease_id="x", status=AttemptStatus.RUNNING, now=NOW)


def test_recorder_transaction_is_all_or_nothing(
    attempts: ExecutionAttemptRepository,
    outcomes: ExecutionOutcomeRepository,
    ledger: LedgerRepository,
    signals: SignalRepository,
    ddb: Any,
    acquire: Acquire,
) -> None:
    ids = _ids()
    acquire(ids, "exec-A")
    outcome = factories.outcome(**ids, trace_id="trace-1")
    entry = factories.ledger_entry(**ids, trace_id="trace-1")
    signal = factories.signal(tenant_id=ids["tenant_id"], account_id=ids["account_id"])
    entries = [
        outcomes.outcome_put_item(outcome),
        attempts.attempt_finalize_update(
            **ids, lease_id="exec-A", status=AttemptStatus.SUCCEEDED, now=outcome.completed_at,
            external_object_refs=outcome.external_object_refs,
        ),
        ledger.ledger_put_item(entry),
        signals.signal_put_item(signal),
    ]  # fmt: skip
    transact_write(ddb, entries)
    assert outcomes.get(**ids) == outcome
    assert ledger.get(ids["tenant_id"], ids["action_intent_id"], entry.event_type) == entry
    assert signals.get(signal.tenant_id, signal.signal_id) == signal
    final = attempts.get(**ids)
    assert final is not None
    assert final.external_object_refs == outcome.external_object_refs

    # A replay of the same transaction (a retried recorder) changes nothing and says which entries exist.
    with pytest.raises(TransactionConditionFailedError) as info:
        transact_write(ddb, entries)
    assert all(info.value.failed(i) for i in range(4))
    assert attempts.get(**ids) == final


def test_terminal_attempt_without_lease(attempts: ExecutionAttemptRepository, ddb: Any) -> None:
    ids = _ids()
    expired = factories.attempt(**ids, status="EXPIRED", completed_at=NOW, error_class="VALIDATION",
                                error_code="INTENT_EXPIRED")  # fmt: skip
    transact_write(ddb, [attempts.attempt_put_terminal_item(expired)])
    assert attempts.get(**ids) == expired
    with pytest.raises(TransactionConditionFailedError):
        transact_write(ddb, [attempts.attempt_put_terminal_item(expired)])
    with pytest.raises(InvalidInputError):
        attempts.attempt_put_terminal_item(factories.attempt())


# ---------------------------------------------------------------- outcomes
def test_outcome_is_write_once(outcomes: ExecutionOutcomeRepository) -> None:
    outcome = factories.failed_outcome()
    ids = (outcome.tenant_id, outcome.account_id, outcome.action_intent_id)
    assert outcomes.put(outcome) is True
    assert outcomes.get(*ids) == outcome
    assert (
        outcomes.put(factories.outcome(tenant_id=ids[0], account_id=ids[1], action_intent_id=ids[2])) is False
    )
    assert outcomes.get(*ids) == outcome


# ---------------------------------------------------------------- ledger
def test_ledger_rejects_duplicate_and_queries_by_tenant_and_trace(ledger: LedgerRepository) -> None:
    tenant, trace, intent_id = uid("t"), uid("trace"), uid("ai")
    started = factories.ledger_entry(
        tenant_id=tenant, trace_id=trace, action_intent_id=intent_id, event_type="EXECUTION_STARTED"
    )
    executed = factories.ledger_entry(
        tenant_id=tenant, trace_id=trace, action_intent_id=intent_id, occurred_at=NOW + timedelta(seconds=5)
    )
    assert ledger.put(started) is True
    assert ledger.put(executed) is True
    retry = executed.model_copy(update={"occurred_at": NOW + timedelta(seconds=9), "attempt_count": 2})
    assert ledger.put(retry) is False
    assert ledger.get(tenant, intent_id, LedgerEventType.ACTION_EXECUTED) == executed

    newest_first = ledger.list_for_tenant(tenant, limit=10)
    assert newest_first.items == [executed, started]
    assert newest_first.next_key is None
    assert ledger.list_for_trace(trace, limit=10).items == [started, executed]

    first_page = ledger.list_for_tenant(tenant, limit=1)
    assert first_page.items == [executed]
    assert first_page.next_key is not None
    assert ledger.list_for_tenant(tenant, limit=1, start=first_page.next_key).items == [started]
    with pytest.raises(InvalidInputError):
        ledger.list_for_tenant(uid("t"), limit=1, start=first_page.next_key)


# ---------------------------------------------------------------- signals
def test_signal_round_trip_camel_case_item_and_ttl(signals: SignalRepository, ddb: Any) -> None:
    signal = factories.signal()
    assert signals.put(signal) is True
    assert signals.put(signal) is False
    assert signals.get(signal.tenant_id, signal.signal_id) == signal
    item = ddb.get_item(
        TableName=signals.table_name,
        Key={"tenantId": {"S": signal.tenant_id}, "signalId": {"S": signal.signal_id}},
    )["Item"]
    assert signal.ttl.expires_at is not None
    assert item["expiresAtEpoch"] == {"N": str(int(signal.ttl.expires_at.timestamp()))}
    assert item["createdAt"] == {"S": "2025-03-01T12:00:00.123456Z"}
    assert item["evidence"]["M"]["evidenceHash"]["S"] == signal.evidence.evidence_hash
    assert item["confidence"] == {"N": "1.0"}


def test_signals_listed_by_account_only_for_the_tenant(signals: SignalRepository) -> None:
    account = uid("acc")
    mine = factories.signal(account_id=account)
    theirs = factories.signal(account_id=account)  # same account id, another tenant
    signals.put(mine)
    signals.put(theirs)
    assert signals.list_for_account(mine.tenant_id, account, limit=10).items == [mine]


# ---------------------------------------------------------------- tenants and kill switches
def test_tenant_config_membership_and_switches(
    tenants: TenantRepository, ddb: Any, ledger: LedgerRepository
) -> None:
    tenant = uid("t")
    assert tenants.get_config(tenant) is None
    state = tenants.get_kill_switch_state(tenant)
    assert state.tenant_execution_enabled is None

    config = TenantConfig(
        tenant_id=tenant, execution_enabled=True, disabled_action_types=["CREATE_CRM_TASK"],
        account_ids=["acc-1", "acc-2"], updated_at=NOW,
    )  # fmt: skip
    tenants.put_config(config)
    assert tenants.get_config(tenant) == config
    assert tenants.is_account_member(tenant, "acc-2")
    assert not tenants.is_account_member(tenant, "acc-3")
    assert not tenants.is_account_member(uid("t"), "acc-1")

    SwitchChanges(ddb, tenants, ledger).set_tenant_stop(
        config, True, by="test", reason="tenant stop", now=NOW + timedelta(minutes=1)
    )
    state = tenants.get_kill_switch_state(tenant)
    assert state.tenant_execution_enabled is False
    assert state.disabled_action_types == frozenset({"CREATE_CRM_TASK"})

    tenants.remove_account(tenant, "acc-1")
    current = tenants.get_config(tenant)
    assert current is not None
    tenants.put_config(current.model_copy(update={"account_ids": [*current.account_ids, "acc-9"]}))
    stored = tenants.get_config(tenant)
    assert stored is not None
    assert stored.account_ids == ["acc-2", "acc-9"]
    assert stored.execution_enabled is False


def test_onboarding_never_overwrites_a_tenant_and_membership_changes_say_what_they_did(
    tenants: TenantRepository,
) -> None:
    tenant = uid("t")
    config = TenantConfig(tenant_id=tenant, execution_enabled=False, account_ids=["acc-1"], updated_at=NOW)
    assert tenants.create_config(config) is True
    assert (
        tenants.create_config(config.model_copy(update={"execution_enabled": True, "account_ids": ["x"]}))
        is False
    )
    assert tenants.get_config(tenant) == config  # the stopped switch and the members are as first written

    assert tenants.add_account(tenant, "acc-2") is True
    assert tenants.add_account(tenant, "acc-2") is False
    assert tenants.remove_account(tenant, "acc-1") is True
    assert tenants.remove_account(tenant, "acc-1") is False
    assert tenants.list_accounts(tenant) == ["acc-2"]
    with pytest.raises(StateConflictError, match="does not exist"):
        tenants.add_account(uid("t"), "acc-1")  # never a member item without its tenant


def test_global_kill_switch(tenants: TenantRepository, ddb: Any, ledger: LedgerRepository) -> None:
    # The global item is shared by the session: restore what was there (through the operators' path too).
    switches = SwitchChanges(ddb, tenants, ledger)
    before = tenants.get_global_kill_switch()
    switches.set_global_stop(False, by="test", reason="clean start", now=NOW)
    try:
        switches.set_global_stop(True, by="test", reason="incident 42", now=NOW)
        assert tenants.get_global_kill_switch() == GlobalKillSwitch(
            enabled=True, reason="incident 42", updated_at=NOW, updated_by="test"
        )
        assert tenants.get_kill_switch_state(uid("t")).global_switch.enabled is True
    finally:
        switches.set_global_stop(before.enabled, by="test", reason="restore", now=NOW)


# ---------------------------------------------------------------- registry
def test_registry_versions_are_immutable(registry: ActionTypeRegistryRepository) -> None:
    v1 = factories.registry_entry()
    assert registry.publish(v1) is PublishResult.CREATED
    republished = v1.model_copy(update={"published_at": NOW + timedelta(days=1)})
    assert registry.publish(republished) is PublishResult.ALREADY_PUBLISHED
    with pytest.raises(RegistryVersionConflictError):
        registry.publish(v1.model_copy(update={"tool_name": "crm.create_task"}))
    assert registry.get(v1.action_type, 1) == v1


def test_registry_latest_and_pinned_versions(registry: ActionTypeRegistryRepository) -> None:
    action_type = uid("ACT")
    for version in (2, 10, 9):
        registry.publish(factories.registry_entry(action_type=action_type, registry_version=version))
    latest = registry.latest(action_type)
    assert latest is not None
    assert latest.registry_version == 10
    assert registry.require(action_type, 9).registry_version == 9
    with pytest.raises(RegistryVersionNotFoundError):
        registry.require(action_type, 3)
    assert registry.latest(uid("ACT")) is None


# ---------------------------------------------------------------- external writes
def _reservation(key: str, at: datetime) -> ExternalWriteRecord:
    return ExternalWriteRecord(
        idempotency_key=key,
        status=ExternalWriteStatus.PENDING,
        tool_name="crm.create_task",
        created_at=at,
        ttl=int(at.timestamp()) + 86400,
    )


def _reserve(ddb: Any, external_writes: ExternalWriteRepository, record: ExternalWriteRecord) -> Item | None:
    """Reserve in a transaction as the adapter does; the stored item when the write already completed."""
    try:
        transact_write(ddb, [external_writes.reserve_item(record)])
    except TransactionConditionFailedError as cancelled:
        return cancelled.items[0]
    return None


def test_external_write_reservations_are_counted_and_a_completed_write_is_never_reserved_again(
    ddb: Any, external_writes: ExternalWriteRepository
) -> None:
    key = uid("idem-key")
    assert _reserve(ddb, external_writes, _reservation(key, NOW)) is None
    assert external_writes.get(key) == _reservation(key, NOW)  # reservations == 1

    # A retry re-reserves the PENDING write: the count says an earlier attempt may have sent it.
    assert _reserve(ddb, external_writes, _reservation(key, NOW + timedelta(seconds=1))) is None
    again = external_writes.get(key)
    assert again is not None
    assert (again.reservations, again.created_at) == (2, NOW + timedelta(seconds=1))

    refs = [factories.ref(system="CRM", object_type="Task", object_url="https://acme.my.salesforce.com/00T1")]
    done = external_writes.finalize(key, refs, NOW + timedelta(seconds=2))
    assert done.status is ExternalWriteStatus.COMPLETED
    assert done.refs == refs
    assert external_writes.get(key) == done
    assert external_writes.finalize(key, [factories.ref()], NOW + timedelta(seconds=3)) == done

    stored = _reserve(ddb, external_writes, _reservation(key, NOW + timedelta(seconds=4)))
    assert stored is not None
    assert external_writes.parse_item(stored) == done
    assert external_writes.get(key) == done  # unchanged
    assert external_writes.release(key) is False  # completed writes are never released


def test_external_write_release_and_unreserved_finalize(
    ddb: Any, external_writes: ExternalWriteRepository
) -> None:
    key = uid("idem-key")
    _reserve(ddb, external_writes, _reservation(key, NOW))
    assert external_writes.release(key) is True
    assert external_writes.get(key) is None
    assert _reserve(ddb, external_writes, _reservation(key, NOW)) is None
    fresh = external_writes.get(key)
    assert fresh is not None
    assert fresh.reservations == 1  # a released write starts counting again
    with pytest.raises(StateConflictError):
        external_writes.finalize(uid("never-reserved"), [], NOW)


# ---------------------------------------------------------------- internal objects and connectors
def test_internal_object_created_once(internal_objects: InternalObjectRepository) -> None:
    tenant = uid("t")
    task = InternalObject(
        tenant_id=tenant, account_id="acc-1", kind=InternalObjectKind.TASK, object_id=uid("task"),
        title="Call back", body="Discuss renewal", idempotency_key=uid("idem-key"), created_at=NOW,
    )  # fmt: skip
    assert internal_objects.put(task) == (True, task)
    retry = task.model_copy(update={"title": "Different", "created_at": NOW + timedelta(seconds=5)})
    assert internal_objects.put(retry) == (False, task)
    assert internal_objects.get(tenant, "acc-1", InternalObjectKind.TASK, task.object_id) == task
    assert internal_objects.get(tenant, "acc-1", InternalObjectKind.NOTE, task.object_id) is None
    assert internal_objects.list_for_account(tenant, "acc-1", InternalObjectKind.TASK, limit=10).items == [
        task
    ]
    assert internal_objects.list_for_account(tenant, "acc-1", InternalObjectKind.NOTE, limit=10).items == []


def test_connector_config_round_trip(connectors: ConnectorConfigRepository) -> None:
    config = ConnectorConfig.model_validate(
        {
            "tenant_id": uid("t"),
            "account_id": "acc-1",
            "connector_type": "CRM",
            "instance_url": "https://acme.my.salesforce.com",
            "secret_id": "crm/acme",
            "updated_at": NOW,
        }
    )
    connectors.put(config)
    assert connectors.get(config.tenant_id, "acc-1", config.connector_type) == config
    assert connectors.get(uid("t"), "acc-1", config.connector_type) is None


# ---------------------------------------------------------------- status reads
def test_status_read_is_one_batch_get(
    status_reads: StatusReadRepository,
    intents: ActionIntentRepository,
    attempts: ExecutionAttemptRepository,
    outcomes: ExecutionOutcomeRepository,
    ddb: Any,
    acquire: Acquire,
) -> None:
    intent = factories.intent()
    ids = (intent.tenant_id, intent.account_id, intent.action_intent_id)
    assert not status_reads.get_execution_records(*ids).found

    intents.put(intent)
    lease = acquire({"tenant_id": ids[0], "account_id": ids[1], "action_intent_id": ids[2]}, "e")
    outcome = factories.outcome(tenant_id=ids[0], account_id=ids[1], action_intent_id=ids[2])
    outcomes.put(outcome)

    calls: list[str] = []

    def record_call(model: Any, **_: Any) -> None:
        calls.append(model.name)

    ddb.meta.events.register("before-call.dynamodb", record_call)
    try:
        records = status_reads.get_execution_records(*ids)
    finally:
        ddb.meta.events.unregister("before-call.dynamodb", record_call)
    assert calls == ["BatchGetItem"]
    assert (records.intent, records.attempt, records.outcome) == (intent, lease.attempt, outcome)

    foreign = status_reads.get_execution_records(uid("t"), ids[1], ids[2])
    assert not foreign.found


def test_status_read_rejects_key_injection(status_reads: StatusReadRepository) -> None:
    with pytest.raises(InvalidInputError):
        status_reads.get_execution_records("t1#ACCOUNT#a1", "a1", "ai-1")


def test_executions_listed_newest_first_with_pagination(
    status_reads: StatusReadRepository, attempts: ExecutionAttemptRepository, acquire: Acquire
) -> None:
    tenant, account = uid("t"), "acc-1"
    started = []
    for minute in (3, 1, 4, 0, 2):
        ids: IntentIds = {"tenant_id": tenant, "account_id": account, "action_intent_id": f"ai-{minute}"}
        started.append(acquire(ids, f"exec-{minute}", NOW + timedelta(minutes=minute)).attempt)
    other: IntentIds = {"tenant_id": uid("t"), "account_id": account, "action_intent_id": "ai-9"}
    acquire(other, "x")

    expected = sorted(started, key=lambda a: a.started_at, reverse=True)
    pages, start = [], None
    while True:
        page = status_reads.list_executions(tenant, account, limit=2, start=start)
        pages.append(page.items)
        start = page.next_key
        if start is None:
            break
    assert [a for items in pages for a in items] == expected
    assert [len(items) for items in pages][:2] == [2, 2]

    first = status_reads.list_executions(tenant, account, limit=2)
    assert first.next_key is not None
    with pytest.raises(InvalidInputError):
        status_reads.list_executions(uid("t"), account, limit=2, start=first.next_key)
    with pytest.raises(InvalidInputError):
        status_reads.list_executions(tenant, account, limit=0)


# ---------------------------------------------------------------- status filter (ADR 0010)
def test_the_status_index_follows_the_status_and_legacy_attempts_are_backfilled(
    attempts: ExecutionAttemptRepository, ddb: Any
) -> None:
    tenant = factories.uid("t")
    running = factories.attempt(tenant_id=tenant, action_intent_id="ai-run")
    finished = factories.attempt(
        tenant_id=tenant,
        action_intent_id="ai-done",
        status="SUCCEEDED",
        started_at=factories.NOW + timedelta(seconds=1),
        completed_at=factories.NOW + timedelta(seconds=2),
    )
    legacy = factories.attempt(
        tenant_id=tenant,
        action_intent_id="ai-old",
        status="FAILED",
        started_at=factories.NOW - timedelta(days=30),
        completed_at=factories.NOW - timedelta(days=30),
        error_class="DOWNSTREAM",
        error_code="DOWNSTREAM_ERROR",
    )
    assert attempts._put_if_absent(attempts.attempt_put_terminal_item(finished)["Put"], "put")
    assert attempts._put_if_absent({"TableName": attempts.table_name, "Item": attempts._item(running)}, "put")
    old_item = attempts._item(legacy)
    del old_item["status_pk"]  # as written before the index existed
    ddb.put_item(TableName=attempts.table_name, Item=old_item)

    def ids(status: AttemptStatus) -> list[str]:
        page = attempts.list_for_account(tenant, "acc-1", 10, status=status)
        return [a.action_intent_id for a in page.items]

    assert (ids(AttemptStatus.RUNNING), ids(AttemptStatus.SUCCEEDED)) == (["ai-run"], ["ai-done"])
    assert ids(AttemptStatus.FAILED) == []  # the legacy attempt has no key in the index yet
    assert [a.action_intent_id for a in attempts.list_for_account(tenant, "acc-1", 10).items] == [
        "ai-done",
        "ai-run",
        "ai-old",
    ]
    assert attempts.backfill_status_keys() >= 1
    assert ids(AttemptStatus.FAILED) == ["ai-old"]
    assert attempts.backfill_status_keys() == 0  # nothing left to backfill: safe to re-run
