"""Account listings on DynamoDB's real Query semantics: a full page always carries a LastEvaluatedKey,
even when nothing follows. The listing reads one item past the page, so an exact last page has no
next_token, and the pages of any partition join with no gap and no duplicate, one Query per page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from execution_core.models import ExecutionAttempt
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.dynamo import Item
from execution_core.repositories.status_read import StatusReadRepository
from execution_core.repositories.tenants import TenantRepository
from execution_core.services.authz import Caller
from execution_core.services.pagination import PaginationTokens
from execution_core.services.status import StatusService
from tests.support import factories

TENANT, ACCOUNT = "t-pages", "acct-pages"
INDEX_KEY = ("pk", "started_sk")
TABLE_KEY = ("pk", "sk")
BASE = datetime(2026, 1, 1, tzinfo=UTC)


class DynamoQueryLikeAws:
    """Query on AccountStartedIndex as DynamoDB answers it: items after ExclusiveStartKey, newest first,
    at most Limit of them (and at most ``size_cap`` when set, DynamoDB's 1 MB cut), and a
    LastEvaluatedKey whenever it stopped at Limit (or at the cut), whether or not anything follows."""

    def __init__(self, items: list[Item], size_cap: int | None = None) -> None:
        self.items = sorted(items, key=lambda i: i["started_sk"]["S"], reverse=True)
        self.size_cap = size_cap
        self.queries: list[dict[str, Any]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.queries.append(request)
        assert request["IndexName"] == "AccountStartedIndex"
        assert request["ScanIndexForward"] is False
        pk = request["ExpressionAttributeValues"][":pk"]
        items = [i for i in self.items if i["pk"] == pk]
        start = request.get("ExclusiveStartKey")
        if start is not None:
            after = start["started_sk"]["S"]
            items = [i for i in items if i["started_sk"]["S"] < after]
        limit = int(request["Limit"])
        cap = min(limit, self.size_cap or limit)
        page = items[:cap]
        response: dict[str, Any] = {"Items": page, "Count": len(page)}
        if len(page) == limit or (len(page) == cap and len(items) > cap):
            last = page[-1]
            response["LastEvaluatedKey"] = {name: last[name] for name in {*INDEX_KEY, *TABLE_KEY}}
        return response


def _stored(count: int) -> list[Item]:
    repo = ExecutionAttemptRepository(None, "attempts")
    return [
        repo._item(
            factories.attempt(
                tenant_id=TENANT,
                account_id=ACCOUNT,
                action_intent_id=f"ai-{i:04d}",
                started_at=BASE + timedelta(minutes=i),
                updated_at=BASE + timedelta(minutes=i),
            )
        )
        for i in range(count)
    ]


def _walk(client: DynamoQueryLikeAws, limit: int) -> list[list[ExecutionAttempt]]:
    repo = ExecutionAttemptRepository(client, "attempts")
    pages, start = [], None
    while True:
        page = repo.list_for_account(TENANT, ACCOUNT, limit, start)
        pages.append(page.items)
        if page.next_key is None:
            return pages
        start = page.next_key
        assert len(pages) < 1000


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 100])
@pytest.mark.parametrize("extra", [-1, 0, 1], ids=["short-last-page", "exact-last-page", "one-more"])
@pytest.mark.parametrize("full_pages", [0, 1, 3])
def test_no_token_on_an_exact_last_page_and_no_gap_or_duplicate(
    limit: int, extra: int, full_pages: int
) -> None:
    total = max(0, full_pages * limit + extra)
    client = DynamoQueryLikeAws(_stored(total))
    pages = _walk(client, limit)

    ids = [a.action_intent_id for page in pages for a in page]
    assert ids == [f"ai-{i:04d}" for i in reversed(range(total))]  # newest first, no gap, no duplicate
    assert all(len(page) == limit for page in pages[:-1])
    expected_pages = max(1, -(-total // limit))  # an exact last page is the last one: no empty page after
    assert len(pages) == expected_pages
    assert len(client.queries) == len(pages)  # one round trip per page
    assert {q["Limit"] for q in client.queries} == {limit + 1}


def test_a_page_cut_by_dynamodb_size_limit_continues_from_where_it_stopped() -> None:
    client = DynamoQueryLikeAws(_stored(20), size_cap=3)
    pages = _walk(client, 7)
    ids = [a.action_intent_id for page in pages for a in page]
    assert ids == [f"ai-{i:04d}" for i in reversed(range(20))]


def test_the_service_emits_no_next_token_on_an_exact_last_page() -> None:
    client = DynamoQueryLikeAws(_stored(6))
    service = StatusService(
        reader=StatusReadRepository(client, "intents", "attempts", "outcomes"),
        tenants=TenantRepository(None, "tenants"),
        tokens=PaginationTokens(lambda: b"k" * 48),
    )
    caller = Caller(TENANT, frozenset({ACCOUNT}))
    first = service.list_executions(caller, ACCOUNT, "3", None)
    assert first.next_token is not None
    second = service.list_executions(caller, ACCOUNT, "3", first.next_token)
    assert [e.action_intent_id for e in first.executions + second.executions] == [
        f"ai-{i:04d}" for i in reversed(range(6))
    ]
    assert second.next_token is None
