"""`make bench` (second part): the status API's in-process latency and DynamoDB round trips per request.

The handler runs in this process through the local runtime (as Lambda would run it, warm), against the
embedded emulator; the figures include the emulator's HTTP round trips, so they are an upper bound of the
handler's own cost and mostly useful to compare runs. Prints one `name: value` per line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from execution_core.models import LedgerEventType, OutcomeStatus
from local_runtime.api_server import proxy_event
from local_runtime.emulator import LocalEmulator
from local_runtime.lambdas import LocalFunction
from local_runtime.output import functions_logging_to
from local_runtime.project import deploy_project
from local_runtime.runtime_state import function_log_file
from tests.support.status_api import Records

STATUS_CALLS = 200
LIST_CALLS = 30  # a page of 50 costs far more in the emulator (its GSI query scans the partition)
TENANT = "bench-tenant"
PARTITIONS = {"bench-small": 10, "bench-large": 300}


def _claims() -> dict[str, str]:
    return {
        "custom:tenant_id": TENANT,
        "custom:account_ids": json.dumps(sorted(PARTITIONS)),
        "token_use": "id",
    }


def _status_event(account_id: str, intent_id: str) -> dict[str, Any]:
    return proxy_event(
        resource="/executions/{action_intent_id}/status",
        method="GET",
        path=f"/executions/{intent_id}/status",
        query=f"account_id={account_id}",
        path_parameters={"action_intent_id": intent_id},
        claims=_claims(),
    )


def _list_event(account_id: str, limit: int, status: str | None = None) -> dict[str, Any]:
    return proxy_event(
        resource="/accounts/{account_id}/executions",
        method="GET",
        path=f"/accounts/{account_id}/executions",
        query=f"limit={limit}" + (f"&status={status}" if status else ""),
        path_parameters={"account_id": account_id},
        claims=_claims(),
    )


def _ledger_event(account_id: str, intent_id: str) -> dict[str, Any]:
    return proxy_event(
        resource="/executions/{action_intent_id}/ledger",
        method="GET",
        path=f"/executions/{intent_id}/ledger",
        query=f"account_id={account_id}",
        path_parameters={"action_intent_id": intent_id},
        claims=_claims(),
    )


def _accounts_event() -> dict[str, Any]:
    return proxy_event(resource="/accounts", method="GET", path="/accounts", query="", claims=_claims())


def measure(
    emulator: LocalEmulator, function: LocalFunction, event: dict[str, Any], calls: int
) -> tuple[float, float]:
    """(median milliseconds, DynamoDB requests per call) over ``calls`` warm invocations."""
    assert emulator.meter is not None
    body, errored = function.invoke(event)  # warm: import, clients, cached signing key
    if errored or json.loads(body)["statusCode"] != 200:
        raise SystemExit(f"the status API did not answer 200: {body}")
    before = emulator.meter.snapshot()
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        function.invoke(event)
        timings.append((time.perf_counter() - started) * 1000)
    requests: Counter[str] = emulator.meter.snapshot() - before
    return statistics.median(timings), requests["dynamodb"] / calls


def main() -> int:
    # The functions' log and metric lines go to a file, never among the figures; the emulator stops first.
    with functions_logging_to(function_log_file("bench_status_api")), LocalEmulator() as emulator:
        stack = deploy_project(emulator, log_level="ERROR")
        records = Records(stack)
        base = datetime(2026, 1, 1, tzinfo=UTC)
        for account_id, size in PARTITIONS.items():
            for i in range(size):
                # One in ten FAILED: the filtered list reads only those, by key (ADR 0010).
                status = OutcomeStatus.FAILED if i % 10 == 0 else OutcomeStatus.SUCCEEDED
                records.finished(TENANT, account_id, f"ai-{i:05d}", status, base + timedelta(seconds=i))
        for offset, kind in enumerate((LedgerEventType.EXECUTION_STARTED, LedgerEventType.ACTION_EXECUTED)):
            records.ledger_entry(TENANT, "bench-large", "ai-00150", kind, base + timedelta(seconds=offset))
        stack.wait_for_streams()  # the outbox publishing those outcomes is not the API's traffic
        function = stack.function("ExecutionStatusApiFunction")
        results: dict[str, float] = {}
        ms, per_call = measure(emulator, function, _status_event("bench-large", "ai-00150"), STATUS_CALLS)
        results["status_api.get_status.median_ms"] = ms
        results["status_api.get_status.dynamodb_requests_per_call"] = per_call
        ms, per_call = measure(emulator, function, _list_event("bench-large", 50), LIST_CALLS)
        results["status_api.list_page.median_ms"] = ms
        results["status_api.list_page.dynamodb_requests_per_call"] = per_call
        for account_id, size in PARTITIONS.items():
            ms, _ = measure(emulator, function, _list_event(account_id, 50), LIST_CALLS)
            results[f"status_api.list_page.partition_{size}.median_ms"] = ms
        ms, per_call = measure(emulator, function, _list_event("bench-large", 10, "FAILED"), LIST_CALLS)
        results["status_api.list_page_filtered.median_ms"] = ms
        results["status_api.list_page_filtered.dynamodb_requests_per_call"] = per_call
        ms, per_call = measure(emulator, function, _ledger_event("bench-large", "ai-00150"), STATUS_CALLS)
        results["status_api.get_ledger.median_ms"] = ms
        results["status_api.get_ledger.dynamodb_requests_per_call"] = per_call
        ms, per_call = measure(emulator, function, _accounts_event(), STATUS_CALLS)
        results["status_api.list_accounts.median_ms"] = ms
        results["status_api.list_accounts.dynamodb_requests_per_call"] = per_call
    # The cost model: one request per status read and per (filtered) page, the access check plus one
    # Query for a trail, none for /accounts when the token lists the accounts.
    expected_requests = {
        "status_api.get_status.dynamodb_requests_per_call": 1,
        "status_api.list_page.dynamodb_requests_per_call": 1,
        "status_api.list_page_filtered.dynamodb_requests_per_call": 1,
        "status_api.get_ledger.dynamodb_requests_per_call": 2,
        "status_api.list_accounts.dynamodb_requests_per_call": 0,
    }
    for name, wanted in expected_requests.items():
        if results[name] != wanted:
            raise SystemExit(f"{name} is {results[name]:g}, expected {wanted}")
    for name, value in results.items():
        print(f"{name}: {value:.2f}" if name.endswith("_ms") else f"{name}: {value:g}")
    if "--json" in sys.argv:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
