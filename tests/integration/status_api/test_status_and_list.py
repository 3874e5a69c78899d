"""Status reads and account listings through the local API server: derivation on stored records, one
DynamoDB round trip per request, limit validation, full traversal of a large partition, token abuse, CORS."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from execution_core.models import AttemptStatus, OutcomeStatus
from execution_core.services.pagination import PaginationTokens
from execution_core.services.status import LIST_ROUTE
from local_runtime.api_server import LocalApiServer
from local_runtime.emulator import LocalEmulator, LocalStack
from tests.support.status_api import ORIGIN, ApiTenant, Records, call, new_tenant

pytestmark = pytest.mark.emulator

INVALID_TOKEN = {"error": "Invalid next_token", "message": "The next_token is invalid or has expired."}


def _get(api: LocalApiServer, tenant: ApiTenant, intent_id: str, account: int = 0) -> dict[str, object]:
    reply = call(
        api, f"/executions/{intent_id}/status?account_id={tenant.account_ids[account]}", tenant.token()
    )
    assert reply.status == 200, reply.body
    assert isinstance(reply.body, dict)
    return reply.body


def test_stored_records_derive_the_seed_statuses(
    api: LocalApiServer, tenant: ApiTenant, records: Records
) -> None:
    t, a = tenant.tenant_id, tenant.account_ids[0]
    pending_intent = records.intent(t, a, "ai-pending")
    records.intent(t, a, "ai-expired", expires_in=timedelta(seconds=-5))
    records.intent(t, a, "ai-running")
    records.attempt(t, a, "ai-running", AttemptStatus.RUNNING)
    records.attempt(t, a, "ai-in-transition", AttemptStatus.SUCCEEDED)  # terminal attempt, no outcome yet
    records.finished(t, a, "ai-done", OutcomeStatus.SUCCEEDED)
    records.finished(t, a, "ai-failed", OutcomeStatus.FAILED)
    # The outcome is written, the attempt still says RUNNING (the race docs/architecture.md §4.8 describes):
    # outcome wins.
    records.finished(t, a, "ai-race", OutcomeStatus.SUCCEEDED, attempt_status=AttemptStatus.RUNNING)

    # Labelled from the intent while no attempt exists (ADR 0010).
    assert _get(api, tenant, "ai-pending") == {
        "action_intent_id": "ai-pending",
        "status": "PENDING",
        "action_type": pending_intent.action_type,
        "account_id": a,
        "approved_at": pending_intent.approval_timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "expires_at": pending_intent.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    assert _get(api, tenant, "ai-expired")["status"] == "EXPIRED"
    running = _get(api, tenant, "ai-running")
    assert (running["status"], running["attempt_count"]) == ("RUNNING", 1)
    # A terminal attempt shows its own status, as the list does (it said PENDING before ADR 0010).
    assert _get(api, tenant, "ai-in-transition")["status"] == "SUCCEEDED"
    done = _get(api, tenant, "ai-done")
    assert done["status"] == "SUCCEEDED"
    assert done["external_object_refs"] == [
        {"system": "INTERNAL", "object_type": "NOTE", "object_id": "note-ai-done"}
    ]
    assert "error_message" not in done
    failed = _get(api, tenant, "ai-failed")
    assert (failed["status"], failed["error_class"], failed["error_message"]) == (
        "FAILED",
        "DOWNSTREAM",
        "The CRM answered 503",
    )
    assert _get(api, tenant, "ai-race")["status"] == "SUCCEEDED"
    # Same id, other account of the same tenant: a different partition, so nothing there.
    other_account = call(
        api, f"/executions/ai-done/status?account_id={tenant.account_ids[1]}", tenant.token()
    )
    assert other_account.status == 404


def _dynamodb_requests(emulator: LocalEmulator, before: Counter[str]) -> Counter[str]:
    assert emulator.meter is not None
    return emulator.meter.snapshot() - before


@pytest.mark.parametrize("account_claim", [True, False], ids=["claims-grant", "membership-grant"])
def test_one_dynamodb_round_trip_per_request(
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
    for i in range(5):
        records.finished(t, a, f"ai-{i}", OutcomeStatus.SUCCEEDED, records.base + timedelta(seconds=i))
    token = tenant.token()
    call(api, f"/accounts/{a}/executions?limit=2", token)  # warm: the signing key is fetched and cached
    runtime.wait_for_streams()  # the outbox publishing those outcomes is not the API's traffic
    assert local_emulator.meter is not None

    before = local_emulator.meter.snapshot()
    assert call(api, f"/executions/ai-1/status?account_id={a}", token).status == 200
    assert _dynamodb_requests(local_emulator, before) == Counter({"dynamodb": 1})

    before = local_emulator.meter.snapshot()
    assert call(api, f"/executions/ai-missing/status?account_id={a}", token).status == 404
    assert _dynamodb_requests(local_emulator, before) == Counter({"dynamodb": 1})

    before = local_emulator.meter.snapshot()
    first = call(api, f"/accounts/{a}/executions?limit=2", token)
    second = call(
        api, f"/accounts/{a}/executions?limit=2&next_token={quote(first.body['next_token'])}", token
    )
    assert second.status == 200
    # Claims decide in one Query per page; without an account claim the list adds one membership read.
    per_page = 1 if account_claim else 2
    assert _dynamodb_requests(local_emulator, before) == Counter({"dynamodb": 2 * per_page})


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", "1e2", " 5", "99999"])
def test_bad_limits_get_the_seed_400_body(api: LocalApiServer, tenant: ApiTenant, limit: str) -> None:
    reply = call(api, f"/accounts/{tenant.account_ids[0]}/executions?limit={quote(limit)}", tenant.token())
    assert reply.status == 400
    assert reply.body == {
        "error": "Invalid limit parameter",
        "message": "The limit query parameter must be a number between 1 and 100.",
        "provided": limit,
    }
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize(("limit", "expected"), [("1", 1), ("100", 100), (None, 50)])
def test_valid_limits(
    api: LocalApiServer, tenant: ApiTenant, records: Records, limit: str | None, expected: int
) -> None:
    t, a = tenant.tenant_id, tenant.account_ids[0]
    for i in range(expected + 1):
        records.attempt(t, a, f"ai-{i:03d}", AttemptStatus.RUNNING, records.base + timedelta(seconds=i))
    query = f"?limit={limit}" if limit else ""
    reply = call(api, f"/accounts/{a}/executions{query}", tenant.token())
    assert reply.status == 200
    assert len(reply.body["executions"]) == expected
    assert "next_token" in reply.body


def test_listing_250_executions_by_7_has_no_duplicate_no_gap_newest_first(
    api: LocalApiServer, tenant: ApiTenant, records: Records
) -> None:
    t, a = tenant.tenant_id, tenant.account_ids[0]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    expected_status = {}
    for i in range(250):
        intent_id = f"ai-{i:04d}"
        started = base + timedelta(minutes=i)
        if i % 5 == 0:
            records.attempt(t, a, intent_id, AttemptStatus.RUNNING, started)
            expected_status[intent_id] = "RUNNING"
        else:
            status = OutcomeStatus.FAILED if i % 7 == 0 else OutcomeStatus.SUCCEEDED
            records.finished(t, a, intent_id, status, started)
            expected_status[intent_id] = status.value
    records.finished(t, tenant.account_ids[1], "ai-other-account", OutcomeStatus.SUCCEEDED, base)
    token = tenant.token()

    seen: list[dict[str, object]] = []
    pages = 0
    next_token: str | None = None
    while True:
        query = "limit=7" + (f"&next_token={quote(next_token)}" if next_token else "")
        reply = call(api, f"/accounts/{a}/executions?{query}", token)
        assert reply.status == 200, reply.body
        pages += 1
        assert len(reply.body["executions"]) <= 7
        seen.extend(reply.body["executions"])
        next_token = reply.body.get("next_token")
        if next_token is None:
            break
        assert pages < 100

    ids = [str(e["action_intent_id"]) for e in seen]
    assert len(ids) == len(set(ids)) == 250
    assert ids == [f"ai-{i:04d}" for i in reversed(range(250))]  # newest first, no gap
    assert {str(e["action_intent_id"]): e["status"] for e in seen} == expected_status
    assert pages == 36  # 35 full pages + the last 5
    started_times = [str(e["started_at"]) for e in seen]
    assert started_times == sorted(started_times, reverse=True)


@pytest.fixture
def listed(api: LocalApiServer, tenant: ApiTenant, records: Records) -> tuple[ApiTenant, str]:
    """A tenant with 5 executions in its first account, and the next_token of its first page of 2."""
    t, a = tenant.tenant_id, tenant.account_ids[0]
    for i in range(5):
        records.finished(t, a, f"ai-{i}", OutcomeStatus.SUCCEEDED, records.base + timedelta(seconds=i))
    first = call(api, f"/accounts/{a}/executions?limit=2", tenant.token())
    return tenant, str(first.body["next_token"])


def _with_token(
    api: LocalApiServer, tenant: ApiTenant, token: str, account: str | None = None, limit: int = 2
) -> object:
    account = account or tenant.account_ids[0]
    return call(
        api, f"/accounts/{account}/executions?limit={limit}&next_token={quote(token)}", tenant.token()
    )


def test_a_valid_token_continues_the_listing(api: LocalApiServer, listed: tuple[ApiTenant, str]) -> None:
    tenant, token = listed
    reply = call(
        api, f"/accounts/{tenant.account_ids[0]}/executions?limit=2&next_token={quote(token)}", tenant.token()
    )
    assert reply.status == 200
    assert [e["action_intent_id"] for e in reply.body["executions"]] == ["ai-2", "ai-1"]


def _flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


@pytest.mark.parametrize("part", ["version", "payload", "signature"])
def test_tampered_tokens_are_400(api: LocalApiServer, listed: tuple[ApiTenant, str], part: str) -> None:
    tenant, token = listed
    version, payload, signature = token.split(".")
    tampered = {
        "version": f"v1.{payload}.{signature}",
        "payload": f"{version}.{_flip(payload, len(payload) // 2)}.{signature}",
        "signature": f"{version}.{payload}.{_flip(signature, 3)}",
    }[part]
    reply = call(
        api,
        f"/accounts/{tenant.account_ids[0]}/executions?limit=2&next_token={quote(tampered)}",
        tenant.token(),
    )
    assert (reply.status, reply.body) == (400, INVALID_TOKEN)


def test_tokens_do_not_travel_between_accounts_tenants_or_page_sizes(
    api: LocalApiServer, runtime: LocalStack, records: Records, listed: tuple[ApiTenant, str]
) -> None:
    tenant, token = listed
    # Same tenant, its other account.
    records.finished(tenant.tenant_id, tenant.account_ids[1], "ai-x", OutcomeStatus.SUCCEEDED)
    other_account = call(
        api, f"/accounts/{tenant.account_ids[1]}/executions?limit=2&next_token={quote(token)}", tenant.token()
    )
    assert (other_account.status, other_account.body) == (400, INVALID_TOKEN)
    # Another tenant granted an account with the very same id.
    twin = new_tenant(runtime, accounts=[tenant.account_ids[0]])
    other_tenant = call(
        api, f"/accounts/{tenant.account_ids[0]}/executions?limit=2&next_token={quote(token)}", twin.token()
    )
    assert (other_tenant.status, other_tenant.body) == (400, INVALID_TOKEN)
    # Same account, another page size.
    other_limit = call(
        api, f"/accounts/{tenant.account_ids[0]}/executions?limit=3&next_token={quote(token)}", tenant.token()
    )
    assert (other_limit.status, other_limit.body) == (400, INVALID_TOKEN)


def _signing_key(runtime: LocalStack) -> bytes:
    secret_arn = runtime.function("ExecutionStatusApiFunction").environment["PAGINATION_SECRET_ARN"]
    return str(
        runtime.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    ).encode()


def test_an_expired_token_is_400(
    api: LocalApiServer, runtime: LocalStack, listed: tuple[ApiTenant, str]
) -> None:
    tenant, _ = listed
    key = _signing_key(runtime)
    tokens = PaginationTokens(lambda: key)
    scope = {
        "route": LIST_ROUTE,
        "tenant_id": tenant.tenant_id,
        "account_id": tenant.account_ids[0],
        "limit": "2",
    }
    position = {"pk": f"TENANT#{tenant.tenant_id}#ACCOUNT#{tenant.account_ids[0]}", "sk": "EXECUTION#ai-3"}
    position["started_sk"] = "x"
    fresh = tokens.issue(position, scope, datetime.now(UTC))
    stale = tokens.issue(position, scope, datetime.now(UTC) - timedelta(minutes=16))
    # Signed with the real key and scoped correctly: only the expiry differs.
    assert (
        call(
            api,
            f"/accounts/{tenant.account_ids[0]}/executions?limit=2&next_token={quote(fresh)}",
            tenant.token(),
        ).status
        == 200
    )
    reply = call(
        api, f"/accounts/{tenant.account_ids[0]}/executions?limit=2&next_token={quote(stale)}", tenant.token()
    )
    assert (reply.status, reply.body) == (400, INVALID_TOKEN)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "x",
        "v1..",
        "v1.e30.",
        "v1.!!!.???",
        "v1." + "A" * 3000,
        "null",
        '{"pk":"TENANT#x"}',
        "v1.e30.AAAA",
        "\u00e9\u00e9",
    ],
)
def test_garbage_tokens_are_400_never_500(api: LocalApiServer, tenant: ApiTenant, garbage: str) -> None:
    reply = call(
        api,
        f"/accounts/{tenant.account_ids[0]}/executions?limit=2&next_token={quote(garbage)}",
        tenant.token(),
    )
    assert (reply.status, reply.body) == (400, INVALID_TOKEN)


def test_cors_on_success_errors_and_preflight(api: LocalApiServer, tenant: ApiTenant) -> None:
    import requests

    path = f"/accounts/{tenant.account_ids[0]}/executions"
    for status, reply in (
        (200, call(api, path, tenant.token())),
        (400, call(api, path + "?limit=0", tenant.token())),
        (403, call(api, "/accounts/acct-not-mine/executions", tenant.token())),
        (404, call(api, f"/executions/ai-nope/status?account_id={tenant.account_ids[0]}", tenant.token())),
        (401, call(api, path)),
    ):
        assert reply.status == status
        assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN, status

    # An origin that is not allowed gets no CORS grant from the function.
    stranger = call(api, path, tenant.token(), Origin="https://evil.example")
    assert stranger.status == 200
    assert "Access-Control-Allow-Origin" not in stranger.headers

    for route in (path, "/executions/ai-1/status"):
        preflight = requests.options(
            api.url + route,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
            timeout=10,
        )
        assert preflight.status_code == 204  # no token needed: browsers send preflights without one
        assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
        assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
