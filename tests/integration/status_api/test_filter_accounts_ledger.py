"""Issue 14 item 2 through the local API server: the list's status filter (a key condition: full pages,
one DynamoDB request per page, tokens bound to the filter), list/detail agreement for every combination
of records, GET /accounts from claims and from membership, and GET /executions/{id}/ledger."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models import (
    ActionOutcome,
    AttemptStatus,
    LedgerEventType,
    OutcomeStatus,
    PipelineStage,
)
from execution_core.repositories.dynamo import transact_write
from local_runtime.api_server import LocalApiServer
from local_runtime.emulator import LocalEmulator, LocalStack
from tests.support.status_api import ApiTenant, Records, call, new_tenant

pytestmark = pytest.mark.emulator

INVALID_TOKEN = {"error": "Invalid next_token", "message": "The next_token is invalid or has expired."}
NOT_FOUND = {"error": "Execution not found"}


def _page(api: LocalApiServer, tenant: ApiTenant, query: str, account: int = 0) -> dict[str, Any]:
    reply = call(api, f"/accounts/{tenant.account_ids[account]}/executions?{query}", tenant.token())
    assert reply.status == 200, reply.body
    assert isinstance(reply.body, dict)
    return reply.body


def _all_pages(api: LocalApiServer, tenant: ApiTenant, query: str) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    token: str | None = None
    while True:
        suffix = f"&next_token={quote(token)}" if token else ""
        body = _page(api, tenant, query + suffix)
        pages.append(body["executions"])
        token = body.get("next_token")
        if token is None:
            return pages


# ------------------------------------------------------------------------------------------ filter
def test_the_filter_returns_full_pages_of_one_status_newest_first(
    api: LocalApiServer, tenant: ApiTenant, records: Records
) -> None:
    t, a = tenant.tenant_id, tenant.account_ids[0]
    # Seven FAILED among many others: a FilterExpression over the start-time index would return short
    # or empty pages here; the status index returns 3, 3, 1.
    statuses = [OutcomeStatus.SUCCEEDED] * 3 + [OutcomeStatus.FAILED] + [OutcomeStatus.CANCELLED]
    failed: list[str] = []
    for i, status in enumerate(itertools.islice(itertools.cycle(statuses), 35)):
        records.finished(t, a, f"ai-f-{i:02d}", status, records.base + timedelta(seconds=i))
        if status is OutcomeStatus.FAILED:
            failed.append(f"ai-f-{i:02d}")
    for i in range(2):
        records.attempt(t, a, f"ai-r-{i}", AttemptStatus.RUNNING, records.base + timedelta(seconds=100 + i))

    pages = _all_pages(api, tenant, "limit=3&status=FAILED")
    assert [len(page) for page in pages] == [3, 3, 1]
    rows = [row for page in pages for row in page]
    assert [row["action_intent_id"] for row in rows] == list(reversed(failed))
    assert {row["status"] for row in rows} == {"FAILED"}
    assert all(row["error_code"] == "DOWNSTREAM_ERROR" for row in rows)
    assert all(row["failed_stage"] == "PerformAction" for row in rows)

    running = _page(api, tenant, "status=RUNNING")
    assert [row["action_intent_id"] for row in running["executions"]] == ["ai-r-1", "ai-r-0"]
    assert "next_token" not in running
    succeeded = [row for page in _all_pages(api, tenant, "limit=10&status=SUCCEEDED") for row in page]
    assert len(succeeded) == 21
    assert _page(api, tenant, "status=EXPIRED") == {"executions": []}
    # No list row is ever PENDING (rows are attempts: RUNNING or terminal), so the filter is empty.
    assert _page(api, tenant, "status=PENDING") == {"executions": []}
    # Another account of the same tenant: nothing of this one's.
    assert _page(api, tenant, "status=FAILED", account=1) == {"executions": []}


def test_a_status_change_moves_the_row_between_filtered_lists(
    api: LocalApiServer, tenant: ApiTenant, records: Records
) -> None:
    t, a = tenant.tenant_id, tenant.account_ids[0]
    attempt = records.attempt(t, a, "ai-move", AttemptStatus.RUNNING)
    assert [r["action_intent_id"] for r in _page(api, tenant, "status=RUNNING")["executions"]] == ["ai-move"]
    outcome = _outcome_of(attempt.tenant_id, a, "ai-move", OutcomeStatus.SUCCEEDED, attempt.started_at)
    transact_write(records.ddb, _finalize_entries(records, outcome, attempt.lease_id))
    assert _page(api, tenant, "status=RUNNING") == {"executions": []}
    (row,) = _page(api, tenant, "status=SUCCEEDED")["executions"]
    assert row["action_intent_id"] == "ai-move"
    assert row["completed_at"] == outcome.completed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize("account_claim", [True, False], ids=["claims-grant", "membership-grant"])
def test_one_dynamodb_request_per_filtered_page(
    api: LocalApiServer,
    runtime: LocalStack,
    local_emulator: LocalEmulator,
    records: Records,
    account_claim: bool,
) -> None:
    tenant = new_tenant(runtime, account_claim=account_claim)
    t, a = tenant.tenant_id, tenant.account_ids[0]
    if not account_claim:
        records.members(t, a)
    for i in range(6):
        status = OutcomeStatus.FAILED if i % 2 else OutcomeStatus.SUCCEEDED
        records.finished(t, a, f"ai-{i}", status, records.base + timedelta(seconds=i))
    token = tenant.token()
    call(api, f"/accounts/{a}/executions?limit=2", token)  # warm: the signing key is fetched and cached
    runtime.wait_for_streams()
    assert local_emulator.meter is not None
    before = local_emulator.meter.snapshot()
    first = call(api, f"/accounts/{a}/executions?limit=2&status=FAILED", token)
    second = call(
        api,
        f"/accounts/{a}/executions?limit=2&status=FAILED&next_token={quote(first.body['next_token'])}",
        token,
    )
    assert (len(first.body["executions"]), len(second.body["executions"])) == (2, 1)
    per_page = 1 if account_claim else 2  # plus the membership read when the token lists no accounts
    assert local_emulator.meter.snapshot() - before == Counter({"dynamodb": 2 * per_page})
    before = local_emulator.meter.snapshot()
    assert call(api, f"/accounts/{a}/executions?status=PENDING", token).status == 200
    assert local_emulator.meter.snapshot() - before == Counter({"dynamodb": per_page - 1})


def test_the_page_token_is_bound_to_the_filter(
    api: LocalApiServer, tenant: ApiTenant, records: Records
) -> None:
    t, a = tenant.tenant_id, tenant.account_ids[0]
    for i in range(4):
        records.finished(t, a, f"ai-{i}", OutcomeStatus.FAILED, records.base + timedelta(seconds=i))
    unfiltered = _page(api, tenant, "limit=1")["next_token"]
    failed = _page(api, tenant, "limit=1&status=FAILED")["next_token"]
    for query in (
        f"limit=1&status=FAILED&next_token={quote(unfiltered)}",  # unfiltered token, filtered list
        f"limit=1&next_token={quote(failed)}",  # filtered token, unfiltered list
        f"limit=1&status=SUCCEEDED&next_token={quote(failed)}",  # another filter
    ):
        reply = call(api, f"/accounts/{a}/executions?{query}", tenant.token())
        assert (reply.status, reply.body) == (400, INVALID_TOKEN), query
    assert _page(api, tenant, f"limit=1&status=FAILED&next_token={quote(failed)}")["executions"]
    assert _page(api, tenant, f"limit=1&next_token={quote(unfiltered)}")["executions"]


@pytest.mark.parametrize("status", ["failed", "DONE", "RUNNING,FAILED", " FAILED", "x" * 100])
def test_a_bad_status_is_a_documented_400(api: LocalApiServer, tenant: ApiTenant, status: str) -> None:
    reply = call(api, f"/accounts/{tenant.account_ids[0]}/executions?status={quote(status)}", tenant.token())
    assert reply.status == 400
    assert reply.body == {
        "error": "Invalid status parameter",
        "message": "The status query parameter must be one of "
        "PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, EXPIRED.",
        "provided": status[:64],
    }


# ------------------------------------------------------------------------------------------ agreement
INTENT_STATES = ("none", "live", "expired")
ATTEMPT_STATES = (
    "none",
    "running",
    "running-in-doubt",
    *(f"finalized-{s.value}" for s in OutcomeStatus),  # outcome and attempt in one transaction
    *(f"terminal-{s.value}" for s in OutcomeStatus),  # terminal attempt, its outcome not there
    "legacy-terminal",  # written before ADR 0010: no status_pk, no labels
)


def test_list_and_detail_agree_for_every_combination(
    api: LocalApiServer, runtime: LocalStack, records: Records
) -> None:
    combos = list(itertools.product(INTENT_STATES, ATTEMPT_STATES))
    accounts = [f"acct-c{i:02d}" for i in range(len(combos))]
    tenant = new_tenant(runtime, account_claim=False, accounts=accounts)
    t = tenant.tenant_id
    for account in accounts:
        records.members(t, account)
    for index, (intent_state, attempt_state) in enumerate(combos):
        _write(records, t, accounts[index], intent_state, attempt_state)

    token = tenant.token()
    for index, (intent_state, attempt_state) in enumerate(combos):
        account, label = accounts[index], (intent_state, attempt_state)
        detail = call(api, f"/executions/ai-combo/status?account_id={account}", token)
        listed = call(api, f"/accounts/{account}/executions", token).body["executions"]
        if attempt_state == "none":
            assert listed == [], label  # the list is of started executions
            if intent_state == "none":
                assert (detail.status, detail.body) == (404, NOT_FOUND), label
            else:
                assert detail.body["status"] == ("EXPIRED" if intent_state == "expired" else "PENDING")
            for status in ("PENDING", "EXPIRED"):
                filtered = call(api, f"/accounts/{account}/executions?status={status}", token)
                assert filtered.body == {"executions": []}, label
            continue
        assert detail.status == 200, label
        assert listed == [detail.body], label  # the same row, field for field
        filtered = call(api, f"/accounts/{account}/executions?status={detail.body['status']}", token)
        if attempt_state == "legacy-terminal":
            assert filtered.body == {"executions": []}, label  # not backfilled: see ADR 0010
        else:
            assert filtered.body == {"executions": [detail.body]}, label
        others = {"RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"} - {detail.body["status"]}
        for status in others:
            assert call(api, f"/accounts/{account}/executions?status={status}", token).body == {
                "executions": []
            }, (label, status)


def _write(records: Records, t: str, a: str, intent_state: str, attempt_state: str) -> None:
    intent_id = "ai-combo"
    if intent_state != "none":
        expires = timedelta(seconds=-5) if intent_state == "expired" else timedelta(hours=1)
        records.intent(t, a, intent_id, expires_in=expires)
    if attempt_state == "none":
        return
    if attempt_state == "legacy-terminal":
        attempt = records._terminal_attempt(t, a, intent_id, AttemptStatus.SUCCEEDED, records.base)
        item = records.attempts.attempt_put_terminal_item(attempt)["Put"]["Item"]
        for name in ("status_pk", "action_type", "approved_at", "expires_at_epoch"):
            item.pop(name, None)
        records.ddb.put_item(TableName=records.attempts.table_name, Item=item)
        return
    if attempt_state.startswith("terminal-"):
        records.attempt(t, a, intent_id, AttemptStatus(attempt_state.removeprefix("terminal-")))
        return
    attempt = records.attempt(t, a, intent_id, AttemptStatus.RUNNING)
    if attempt_state == "running-in-doubt":
        marked = records.attempts.mark_in_doubt(
            t,
            a,
            intent_id,
            lease_id=attempt.lease_id,
            now=records.base,
            error="States.Timeout",
            message="the adapter did not answer",
        )
        assert marked
    elif attempt_state.startswith("finalized-"):
        status = OutcomeStatus(attempt_state.removeprefix("finalized-"))
        outcome = _outcome_of(t, a, intent_id, status, attempt.started_at)
        transact_write(records.ddb, _finalize_entries(records, outcome, attempt.lease_id))


def _outcome_of(t: str, a: str, intent_id: str, status: OutcomeStatus, started: datetime) -> ActionOutcome:
    failed = status is not OutcomeStatus.SUCCEEDED
    return ActionOutcome(
        action_intent_id=intent_id,
        status=status,
        error_code=ErrorCode.DOWNSTREAM_ERROR if failed else None,
        error_class=ErrorClass.DOWNSTREAM if failed else None,
        error_message="The CRM answered 503" if failed else None,
        attempt_count=1,
        started_at=started,
        completed_at=started + timedelta(seconds=2),
        tenant_id=t,
        account_id=a,
        trace_id=f"trace-{intent_id}",
        action_type="CREATE_INTERNAL_NOTE",
    )


def _finalize_entries(records: Records, outcome: ActionOutcome, lease_id: str) -> list[dict[str, Any]]:
    """What the recorders commit: the outcome and the attempt's finalize update, in one transaction."""
    failed = outcome.status is not OutcomeStatus.SUCCEEDED
    return [
        records.outcomes.outcome_put_item(outcome),
        records.attempts.attempt_finalize_update(
            tenant_id=outcome.tenant_id,
            account_id=outcome.account_id,
            action_intent_id=outcome.action_intent_id,
            lease_id=lease_id,
            status=AttemptStatus(outcome.status.value),
            now=outcome.completed_at,
            error_class=outcome.error_class,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
            external_object_refs=outcome.external_object_refs,
            failed_stage=PipelineStage.PERFORM if failed else None,
        ),
    ]


# ------------------------------------------------------------------------------------------ /accounts
def test_accounts_come_from_the_claims_sorted(api: LocalApiServer, runtime: LocalStack) -> None:
    tenant = new_tenant(runtime, accounts=["acct-z", "acct-a", "acct-m"])
    reply = call(api, "/accounts", tenant.token())
    assert reply.status == 200
    assert reply.body == {"accounts": [{"account_id": a} for a in ("acct-a", "acct-m", "acct-z")]}


def test_accounts_come_from_membership_without_an_account_claim(
    api: LocalApiServer, runtime: LocalStack, records: Records
) -> None:
    tenant = new_tenant(runtime, account_claim=False)
    assert call(api, "/accounts", tenant.token()).body == {"accounts": []}
    for account in ("acct-2", "acct-10", "acct-1"):
        records.members(tenant.tenant_id, account)
    other = new_tenant(runtime, account_claim=False)
    records.members(other.tenant_id, "acct-other")
    reply = call(api, "/accounts", tenant.token())
    assert reply.status == 200
    assert reply.body == {"accounts": [{"account_id": a} for a in ("acct-1", "acct-10", "acct-2")]}


def test_accounts_need_a_verified_identity(api: LocalApiServer) -> None:
    assert call(api, "/accounts").status == 401


# ------------------------------------------------------------------------------------------ ledger
def test_the_ledger_is_oldest_first_with_safe_fields_only(
    api: LocalApiServer, tenant: ApiTenant, records: Records
) -> None:
    t, a = tenant.tenant_id, tenant.account_ids[0]
    records.intent(t, a, "ai-led")
    base = datetime.now(UTC).replace(microsecond=0)
    records.ledger_entry(
        t,
        a,
        "ai-led",
        LedgerEventType.ACTION_FAILED,
        base + timedelta(seconds=5),
        {
            "status": "FAILED",
            "error_class": "DOWNSTREAM",
            "error_code": "DOWNSTREAM_ERROR",
            "failed_stage": "PerformAction",
            "tool_run_ref": "run-internal-1",
            "message": "secret=abc at /var/task/app.py",
            "original_decision_id": "dec-1",
        },
    )
    records.ledger_entry(t, a, "ai-led", LedgerEventType.EXECUTION_STARTED, base)
    records.ledger_entry(
        t, a, "ai-led", LedgerEventType.SIGNAL, base + timedelta(seconds=6), {"signal_type": "ACTION_FAILED"}
    )
    # The same intent id in another account of the tenant: not this account's trail.
    records.ledger_entry(t, tenant.account_ids[1], "ai-led", LedgerEventType.EXECUTION_CANCELLED, base)

    reply = call(api, f"/executions/ai-led/ledger?account_id={a}", tenant.token())
    assert reply.status == 200
    stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
    assert reply.body == {
        "action_intent_id": "ai-led",
        "entries": [
            {"at": base.strftime(stamp), "kind": "EXECUTION_STARTED", "attempt_count": 1},
            {
                "at": (base + timedelta(seconds=5)).strftime(stamp),
                "kind": "ACTION_FAILED",
                "attempt_count": 1,
                "status": "FAILED",
                "error_class": "DOWNSTREAM",
                "error_code": "DOWNSTREAM_ERROR",
                "failed_stage": "PerformAction",
            },
            {
                "at": (base + timedelta(seconds=6)).strftime(stamp),
                "kind": "SIGNAL",
                "attempt_count": 1,
                "signal_type": "ACTION_FAILED",
            },
        ],
    }
    text = str(reply.body)
    for secret in ("run-internal-1", "secret=abc", "trace-", "TENANT#", "INTENT#", "dec-1"):
        assert secret not in text


def test_the_ledger_has_the_status_routes_404_rules(
    api: LocalApiServer, runtime: LocalStack, tenant: ApiTenant, records: Records
) -> None:
    t, a = tenant.tenant_id, tenant.account_ids[0]
    records.intent(t, a, "ai-mine")
    records.ledger_entry(t, a, "ai-mine", LedgerEventType.EXECUTION_STARTED, records.base)
    # Another tenant with the same account and intent ids: its records and trail are invisible here.
    foreign = new_tenant(runtime, accounts=[a])
    records.intent(foreign.tenant_id, a, "ai-theirs")
    records.ledger_entry(foreign.tenant_id, a, "ai-theirs", LedgerEventType.EXECUTION_STARTED, records.base)
    token = tenant.token()
    unknown = call(api, f"/executions/ai-unknown/ledger?account_id={a}", token)
    theirs = call(api, f"/executions/ai-theirs/ledger?account_id={a}", token)
    assert (unknown.status, unknown.body) == (404, NOT_FOUND)
    assert (theirs.status, theirs.body) == (unknown.status, unknown.body)
    # A ledger entry alone (no intent, attempt or outcome) is not an execution: the status route's 404.
    records.ledger_entry(t, a, "ai-orphan", LedgerEventType.EXECUTION_STARTED, records.base)
    assert call(api, f"/executions/ai-orphan/status?account_id={a}", token).status == 404
    assert call(api, f"/executions/ai-orphan/ledger?account_id={a}", token).status == 404
    # The owner sees its own trail; an intent not started yet has an empty one.
    mine = call(api, f"/executions/ai-mine/ledger?account_id={a}", token)
    assert [e["kind"] for e in mine.body["entries"]] == ["EXECUTION_STARTED"]
    records.intent(t, a, "ai-new")
    assert call(api, f"/executions/ai-new/ledger?account_id={a}", token).body == {
        "action_intent_id": "ai-new",
        "entries": [],
    }
    assert call(api, "/executions/ai-mine/ledger?account_id=acct-not-granted", token).status == 403
    missing = call(api, "/executions/ai-mine/ledger", token)
    assert missing.status == 400
    assert missing.body["error"] == "Invalid request"
    assert call(api, f"/executions/{quote('a#b', safe='')}/ledger?account_id={a}", token).status == 400
    assert call(api, f"/executions/ai-mine/ledger?account_id={a}").status == 401
