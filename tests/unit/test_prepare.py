"""PrepareExecution's decisions (services/prepare.py) against in-memory fakes of the intents, registry,
attempts and ledger repositories: everything is checked before anything is written, a lease another live
execution holds is a duplicate start, and a taken-over lease keeps its first start."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import pytest

from execution_core.contracts import PrepareRequest
from execution_core.errors import (
    ConfigurationError,
    DuplicateStartError,
    IntentExpiredError,
    IntentNotFoundError,
    RegistryVersionNotFoundError,
    StateConflictError,
)
from execution_core.models import ActionIntent, ActionTypeRegistryEntry, ExecutionAttempt
from execution_core.repositories.attempts import ExecutionAttemptRepository, LeaseOutcome, LeaseResult
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.registry import ActionTypeRegistryRepository
from execution_core.services.deterministic_ids import lease_id_for
from execution_core.services.prepare import CachedRegistry, ExecutionPreparer
from tests.support import factories
from tests.support.factories import NOW

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:bel-execution:run-1"
ADAPTERS = {"internal": "arn:aws:lambda:us-east-1:123456789012:function:bel-InternalAdapterFunction"}
ENTRY = factories.registry_entry(action_type="CREATE_INTERNAL_TASK")
LEASE_SECONDS = 300


@dataclass
class FakeIntents:
    stored: ActionIntent | None

    def get(self, tenant_id: str, account_id: str, action_intent_id: str) -> ActionIntent | None:
        return self.stored


@dataclass
class FakeRegistry:
    entries: dict[tuple[str, int], ActionTypeRegistryEntry] = field(
        default_factory=lambda: {(ENTRY.action_type, ENTRY.registry_version): ENTRY}
    )
    reads: int = 0

    def require(self, action_type: str, version: int) -> ActionTypeRegistryEntry:
        self.reads += 1
        try:
            return self.entries[(action_type, version)]
        except KeyError:
            raise RegistryVersionNotFoundError() from None


@dataclass
class FakeAttempts:
    """acquire_lease answers with ``outcome``; an ACQUIRED lease returns the claim unless ``stored`` says
    what the table already held (a takeover keeps the first start and counts)."""

    outcome: LeaseOutcome = LeaseOutcome.ACQUIRED
    stored: ExecutionAttempt | None = None
    claims: list[tuple[ExecutionAttempt, Any]] = field(default_factory=list)

    def acquire_lease(
        self, claim: ExecutionAttempt, *, started_entry: Any, holder_running: Any
    ) -> LeaseResult:
        self.claims.append((claim, started_entry))
        return LeaseResult(self.outcome, self.stored or claim, taken_over=self.stored is not None)


class FakeLedger:
    def ledger_put_item(self, entry: Any) -> dict[str, Any]:
        return {"ledger": entry}


def _preparer(
    intent: ActionIntent | None, attempts: FakeAttempts, registry: FakeRegistry | None = None
) -> Any:
    return ExecutionPreparer(
        intents=cast(ActionIntentRepository, FakeIntents(intent)),
        registry=CachedRegistry(cast(ActionTypeRegistryRepository, registry or FakeRegistry())),
        attempts=cast(ExecutionAttemptRepository, attempts),
        ledger=cast(LedgerRepository, FakeLedger()),
        holder_running=lambda arn: False,
        adapters=ADAPTERS,
        lease_seconds=LEASE_SECONDS,
        clock=lambda: NOW,
    )


def _intent(**overrides: Any) -> ActionIntent:
    return factories.intent(action_type=ENTRY.action_type, parameters={"title": "  Call back  "}, **overrides)


def _request(intent: ActionIntent, **detail: str) -> PrepareRequest:
    ids = {
        "action_intent_id": intent.action_intent_id,
        "tenant_id": intent.tenant_id,
        "account_id": intent.account_id,
    }
    return PrepareRequest.model_validate({"event": {"detail": ids | detail}, "execution_id": EXECUTION})


def test_a_first_start_claims_the_lease_with_the_mapped_call_and_the_started_entry() -> None:
    intent, attempts = _intent(), FakeAttempts()

    prepared = _preparer(intent, attempts).prepare(_request(intent))

    assert prepared.tool.parameters == {"subject": "Call back"}  # the registry's mapping, trimmed
    assert prepared.adapter_function == ADAPTERS["internal"]
    assert (prepared.lease_id, prepared.attempt_count, prepared.started_at) == (
        lease_id_for(EXECUTION),
        1,
        NOW,
    )
    [(claim, started)] = attempts.claims
    assert claim.lease_expires_at == int(NOW.timestamp()) + LEASE_SECONDS
    assert (claim.idempotency_key, claim.approved_at) == (prepared.idempotency_key, intent.approval_timestamp)
    assert started["ledger"].action_intent_id == intent.action_intent_id


def test_a_taken_over_lease_keeps_its_first_start_and_counts_the_takeover() -> None:
    intent = _intent()
    earlier = factories.attempt(attempt_count=2, started_at=NOW - timedelta(minutes=20))
    prepared = _preparer(intent, FakeAttempts(stored=earlier)).prepare(_request(intent))
    assert (prepared.attempt_count, prepared.started_at) == (2, earlier.started_at)


@pytest.mark.parametrize("outcome", [LeaseOutcome.HELD, LeaseOutcome.TERMINAL])
def test_a_lease_not_acquired_is_a_duplicate_start(outcome: LeaseOutcome) -> None:
    intent = _intent()
    with pytest.raises(DuplicateStartError):
        _preparer(intent, FakeAttempts(outcome=outcome)).prepare(_request(intent))


def test_an_unknown_intent_is_not_found_and_nothing_is_claimed() -> None:
    attempts = FakeAttempts()
    with pytest.raises(IntentNotFoundError):
        _preparer(None, attempts).prepare(_request(_intent()))
    assert attempts.claims == []


def test_a_stored_intent_under_another_key_is_a_conflict_not_a_start() -> None:
    intent, attempts = _intent(), FakeAttempts()
    with pytest.raises(StateConflictError):
        _preparer(intent, attempts).prepare(_request(intent, tenant_id="t-someone-else"))
    assert attempts.claims == []


@pytest.mark.parametrize("left", [timedelta(0), -timedelta(seconds=1)])
def test_an_intent_at_or_past_its_expiry_fails_fast_without_a_claim(left: timedelta) -> None:
    intent, attempts = _intent(expires_at=NOW + left), FakeAttempts()
    with pytest.raises(IntentExpiredError):
        _preparer(intent, attempts).prepare(_request(intent))
    assert attempts.claims == []


def test_a_tool_without_a_configured_adapter_is_a_configuration_error() -> None:
    crm = factories.registry_entry(action_type="CREATE_CRM_TASK", tool_name="crm.create_task")
    registry = FakeRegistry({(crm.action_type, crm.registry_version): crm})
    intent, attempts = (
        factories.intent(action_type="CREATE_CRM_TASK", parameters={"title": "x"}),
        FakeAttempts(),
    )
    with pytest.raises(ConfigurationError, match=r"crm\.create_task"):
        _preparer(intent, attempts, registry).prepare(_request(intent))
    assert attempts.claims == []


def test_the_registry_cache_keeps_found_versions_and_asks_again_for_missing_ones() -> None:
    repository = FakeRegistry()
    cached = CachedRegistry(cast(ActionTypeRegistryRepository, repository))
    assert cached.require(ENTRY.action_type, 1) is ENTRY
    assert cached.require(ENTRY.action_type, 1) is ENTRY
    for _ in range(2):
        with pytest.raises(RegistryVersionNotFoundError):
            cached.require(ENTRY.action_type, 2)
    assert repository.reads == 3  # one read for the found version, one per ask for the missing one
