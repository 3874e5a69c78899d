"""docs/openapi.yaml is the API's contract: a valid OpenAPI 3.1 document whose routes are exactly the
template's and the resolver's, and whose schemas accept the responses the running API really sends."""

from __future__ import annotations

import importlib.util
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
import requests
import yaml
from aws_lambda_powertools import Logger
from openapi_spec_validator import validate as validate_spec

from execution_core.api.http import error_handlers
from execution_core.errors import DataStoreError
from execution_core.models import AttemptStatus, LedgerEventType, OutcomeStatus
from local_runtime.api_server import LocalApiServer, load_apis
from local_runtime.emulator import LocalStack
from local_runtime.lambdas import applied_environment
from local_runtime.template import PROJECT_ROOT, load_raw_template
from tests.support.status_api import FUNCTION, ORIGIN, ApiTenant, Records, call

pytestmark = pytest.mark.emulator

OPENAPI_PATH = PROJECT_ROOT / "docs" / "openapi.yaml"
# Throttling, unexpected failures (see the unit below) and API Gateway's integration timeout.
NOT_EXERCISED = {("GET", "429"), ("GET", "500"), ("GET", "504")}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8")))


def _documented_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate_spec(document)


def test_routes_match_the_template_events_and_the_translated_api(
    document: dict[str, Any], runtime: LocalStack
) -> None:
    events = load_raw_template()["Resources"][FUNCTION]["Properties"]["Events"]
    from_events = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events.values()}
    (api,) = load_apis(runtime)
    served = {(route.method, route.resource) for route in api.routes}
    assert _documented_routes(document) == from_events == served
    # Only the preflights are open; everything else requires the Cognito authorizer.
    open_routes = {(r.method, r.resource) for r in api.routes if r.authorizer is None}
    assert open_routes == {(m, p) for m, p in served if m == "OPTIONS"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert (operation.get("security") == []) == (method == "options"), (method, path)


def test_routes_match_the_resolvers_routes(document: dict[str, Any], runtime: LocalStack) -> None:
    function = runtime.function(FUNCTION)
    spec = importlib.util.spec_from_file_location("status_api_contract_app", function.code_dir / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with applied_environment(function.environment):
        spec.loader.exec_module(module)
    resolver_schema = module.app.get_openapi_schema()
    resolver_routes = {
        (m.upper(), p)
        for p, item in resolver_schema.paths.items()
        for m in ("get", "post", "put", "delete")
        if getattr(item, m)
    }
    documented_gets = {(m, p) for m, p in _documented_routes(document) if m != "OPTIONS"}
    # OPTIONS is answered by the resolver's CORS preflight support, not by a route of its own.
    assert resolver_routes == documented_gets


def _schema_for(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any] | None:
    response = document["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    content = response.get("content")
    return None if content is None else dict(content["application/json"]["schema"])


def _check(document: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    schema = _schema_for(document, path, method, status)
    if schema is None:
        assert body in (None, b"", ""), (path, method, status)
        return
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(body)


def test_real_responses_validate_against_the_document(
    document: dict[str, Any], api: LocalApiServer, runtime: LocalStack, tenant: ApiTenant, records: Records
) -> None:
    t, a = tenant.tenant_id, tenant.account_ids[0]
    records.intent(t, a, "ai-contract-pending")
    records.attempt(t, a, "ai-contract-running", AttemptStatus.RUNNING)
    records.finished(t, a, "ai-contract-ok", OutcomeStatus.SUCCEEDED, records.base + timedelta(seconds=1))
    records.finished(t, a, "ai-contract-failed", OutcomeStatus.FAILED, records.base + timedelta(seconds=2))
    token = tenant.token()
    status_path = "/executions/{action_intent_id}/status"
    ledger_path = "/executions/{action_intent_id}/ledger"
    list_path = "/accounts/{account_id}/executions"
    accounts_path = "/accounts"
    first_page = call(api, f"/accounts/{a}/executions?limit=2", token)
    records.finished(t, a, "ai-contract-ok-2", OutcomeStatus.SUCCEEDED, records.base + timedelta(seconds=3))
    records.ledger_entry(
        t, a, "ai-contract-ok", LedgerEventType.EXECUTION_STARTED, records.base + timedelta(seconds=1)
    )
    records.ledger_entry(
        t,
        a,
        "ai-contract-ok",
        LedgerEventType.ACTION_EXECUTED,
        records.base + timedelta(seconds=3),
        {"status": "SUCCEEDED", "tool_name": "internal.create_note", "tool_run_ref": "run-1"},
    )
    filtered_page = call(api, f"/accounts/{a}/executions?limit=1&status=SUCCEEDED", token)
    scenarios = [
        (status_path, f"/executions/ai-contract-pending/status?account_id={a}", token, 200),
        (status_path, f"/executions/ai-contract-running/status?account_id={a}", token, 200),
        (status_path, f"/executions/ai-contract-ok/status?account_id={a}", token, 200),
        (status_path, f"/executions/ai-contract-failed/status?account_id={a}", token, 200),
        (status_path, f"/executions/ai-nothing/status?account_id={a}", token, 404),
        (status_path, "/executions/ai-x/status", token, 400),
        (status_path, f"/executions/{quote('ai-\U0001f600')}/status?account_id={a}", token, 400),
        (status_path, f"/executions/{quote('a#b', safe='')}/status?account_id={a}", token, 400),
        (status_path, f"/executions/ai-x/status?account_id={quote('acct?1')}", token, 400),
        (status_path, f"/executions/ai-x/status?account_id={a}", None, 401),
        (status_path, "/executions/ai-x/status?account_id=acct-not-granted", token, 403),
        (list_path, f"/accounts/{a}/executions?limit=2", token, 200),
        (
            list_path,
            f"/accounts/{a}/executions?limit=2&next_token={quote(first_page.body['next_token'])}",
            token,
            200,
        ),
        (list_path, f"/accounts/{a}/executions?limit=0", token, 400),
        (list_path, f"/accounts/{a}/executions?next_token=garbage", token, 400),
        (list_path, f"/accounts/{quote('acct%FF', safe='')}/executions", token, 400),
        (list_path, f"/accounts/{a}/executions", None, 401),
        (list_path, "/accounts/acct-not-granted/executions", token, 403),
        (list_path, f"/accounts/{a}/executions?status=FAILED", token, 200),
        (list_path, f"/accounts/{a}/executions?status=PENDING", token, 200),
        (
            list_path,
            f"/accounts/{a}/executions?limit=1&status=SUCCEEDED"
            f"&next_token={quote(filtered_page.body['next_token'])}",
            token,
            200,
        ),
        (list_path, f"/accounts/{a}/executions?status=DONE", token, 400),
        (ledger_path, f"/executions/ai-contract-ok/ledger?account_id={a}", token, 200),
        (ledger_path, f"/executions/ai-contract-pending/ledger?account_id={a}", token, 200),
        (ledger_path, f"/executions/ai-nothing/ledger?account_id={a}", token, 404),
        (ledger_path, "/executions/ai-x/ledger", token, 400),
        (ledger_path, f"/executions/ai-x/ledger?account_id={a}", None, 401),
        (ledger_path, "/executions/ai-x/ledger?account_id=acct-not-granted", token, 403),
        (accounts_path, "/accounts", token, 200),
        (accounts_path, "/accounts", None, 401),
    ]
    exercised = set()
    for template_path, url, bearer, expected in scenarios:
        reply = call(api, url, bearer)
        assert reply.status == expected, (url, reply.body)
        assert reply.headers["Vary"] == "Origin", url
        _check(document, template_path, "get", reply.status, reply.body)
        exercised.add(("GET", str(reply.status)))
    function = runtime.function(FUNCTION)
    for template_path, url in (
        (status_path, f"/executions/ai-1/status?account_id={a}"),
        (list_path, f"/accounts/{a}/executions"),
        (ledger_path, f"/executions/ai-1/ledger?account_id={a}"),
        (accounts_path, "/accounts"),
    ):
        function.inject_fault("Runtime.ExitError")  # API Gateway's 502 for a function that crashed
        try:
            crashed = call(api, url, token)
        finally:
            function.clear_faults()
        assert crashed.status == 502
        _check(document, template_path, "get", 502, crashed.body)
        exercised.add(("GET", "502"))
    for template_path, url in (
        (status_path, "/executions/ai-1/status"),
        (list_path, f"/accounts/{a}/executions"),
        (ledger_path, "/executions/ai-1/ledger"),
        (accounts_path, "/accounts"),
    ):
        preflight = requests.options(
            api.url + url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}, timeout=10
        )
        assert preflight.status_code == 204
        _check(document, template_path, "options", 204, preflight.content)

    documented = {
        ("GET", code)
        for path in (status_path, ledger_path, list_path, accounts_path)
        for code in document["paths"][path]["get"]["responses"]
    }
    assert documented - exercised == NOT_EXERCISED
    # The /accounts 400 and 403 (a malformed event, unusable grants) are the shared responses, exercised
    # on the other routes above and by the request-validation and auth-matrix tests.


def test_unexpected_failures_get_the_documented_generic_500(document: dict[str, Any]) -> None:
    handlers = dict(error_handlers(Logger(service="contract-test")))
    for exc in (
        RuntimeError("boom at /var/task/app.py line 3"),
        DataStoreError("table bel-local-Secret rejected"),
    ):
        handler = handlers[type(exc)] if type(exc) in handlers else handlers[Exception]
        response = handler(exc)
        assert response.status_code == 500
        body = json.loads(str(response.body))
        _check(document, "/executions/{action_intent_id}/status", "get", 500, body)
        assert body == {"error": "Internal server error"}


def test_the_document_lives_in_the_repository() -> None:
    assert Path(OPENAPI_PATH).is_file()


def test_every_status_the_api_can_answer_is_documented_with_a_body(document: dict[str, Any]) -> None:
    paths = document["paths"]
    limit = next(p for p in paths["/accounts/{account_id}/executions"]["get"]["parameters"] if "name" in p)
    assert limit["name"] == "limit"
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}
    wanted = {"200", "400", "401", "403", "429", "500", "502", "504"}
    assert set(paths["/executions/{action_intent_id}/status"]["get"]["responses"]) == wanted | {"404"}
    assert set(paths["/accounts/{account_id}/executions"]["get"]["responses"]) == wanted
    assert set(paths["/executions/{action_intent_id}/ledger"]["get"]["responses"]) == wanted | {"404"}
    assert set(paths["/accounts"]["get"]["responses"]) == wanted
    for path, item in paths.items():
        assert set(item["options"]["responses"]) == {"204"}, path
        for status in item["get"]["responses"]:
            assert _schema_for(document, path, "get", int(status)) is not None, (path, status)
