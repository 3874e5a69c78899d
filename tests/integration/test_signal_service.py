"""SignalService.transaction_items (what the recorders commit): once per signal, TTL from its expiry, nothing
else touched."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from execution_core.errors import TransactionConditionFailedError
from execution_core.models.execution import ActionOutcome, OutcomeStatus
from execution_core.models.ledger import LedgerEventType
from execution_core.repositories.dynamo import transact_write
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.signals import SignalRepository
from execution_core.services.signals import SignalService, build_execution_outcome_signal
from local_runtime.emulator import LocalStack
from local_runtime.intents import new_intent
from local_runtime.template import load_raw_template

pytestmark = pytest.mark.emulator


def test_signal_is_created_once_with_its_ledger_entry_and_ttl(runtime: LocalStack) -> None:
    ddb = runtime.client("dynamodb")
    signals = SignalRepository(ddb, runtime.physical_name("SignalsTable"))
    ledger = LedgerRepository(ddb, runtime.physical_name("LedgerTable"))
    service = SignalService(client=ddb, signals=signals, ledger=ledger)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    intent = new_intent(tenant, "acct-1", "CREATE_INTERNAL_NOTE", {"title": "x"})
    completed = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    outcome = ActionOutcome(
        action_intent_id=intent.action_intent_id,
        status=OutcomeStatus.SUCCEEDED,
        attempt_count=1,
        started_at=completed,
        completed_at=completed,
        tenant_id=tenant,
        account_id="acct-1",
        trace_id=intent.trace_id,
    )
    signal = build_execution_outcome_signal(outcome, intent, intent.trace_id, completed)
    tables = [
        lid for lid, r in load_raw_template()["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"
    ]

    def counts() -> dict[str, int]:
        return {t: ddb.scan(TableName=runtime.physical_name(t), Select="COUNT")["Count"] for t in tables}

    before = counts()
    transact_write(ddb, service.transaction_items(signal, attempt_count=1))
    with pytest.raises(TransactionConditionFailedError):  # the same signal again: nothing written
        transact_write(ddb, service.transaction_items(signal, attempt_count=1))

    after = counts()
    changed = {t for t in tables if after[t] != before[t]}
    assert changed == {"SignalsTable", "LedgerTable"}  # no account or lifecycle state anywhere
    assert after["SignalsTable"] - before["SignalsTable"] == 1
    assert after["LedgerTable"] - before["LedgerTable"] == 1
    assert ledger.get(tenant, intent.action_intent_id, LedgerEventType.SIGNAL) is not None
    item = ddb.get_item(
        TableName=runtime.physical_name("SignalsTable"),
        Key={"tenantId": {"S": tenant}, "signalId": {"S": signal.signal_id}},
    )["Item"]
    assert signal.ttl.expires_at is not None
    assert int(item["expiresAtEpoch"]["N"]) == int(signal.ttl.expires_at.timestamp())
    assert item["dedupeKey"]["S"] == signal.dedupe_key  # stored with the perception layer's names
