"""Crafted proxy events straight into the function: any path id outside the Identifier rule, and any
broken event shape, is a classified 4xx with the documented body (never a 404, a 500 or a trace), and
every response carries ``Vary: Origin``."""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_runtime.emulator import LocalStack
from local_runtime.template import PROJECT_ROOT
from tests.support.status_api import FUNCTION, ORIGIN

pytestmark = pytest.mark.emulator

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
INVALID_REQUEST = "Invalid request"
UNAUTHORIZED = {"error": "Unauthorized"}
SAMPLE = json.loads((PROJECT_ROOT / "events" / "status_api_get_status_found_200.json").read_text("utf-8"))
ACCOUNT = SAMPLE["queryStringParameters"]["account_id"]

BAD_IDS = [
    "",
    "a\x00b",
    "a\x07b",
    "a\nb",
    "a\tb",
    "a\x7fb",
    'a"b',
    "a\\b",
    "a?b",
    "a#b",
    "a`b",
    "a b",
    "a%b",
    "a%ZZ",
    "a%FF",
    "a%C3%28",
    "%00",
    "%F0%9F%98%80",
    "a%2Fb",
    "a%23b",
    "\U0001f600",
    "caf\u00e9",
    "-leading-dash",
    ".leading-dot",
    "x" * 129,
    "a<b>",
    "a|b",
    "a'b",
    "a;b",
]


def _event(route: str, raw_id: str, decoded_id: str | None = None) -> dict[str, Any]:
    """A REST proxy event for ``route`` with ``raw_id`` in the path exactly as given."""
    event: dict[str, Any] = copy.deepcopy(SAMPLE)
    if route == "status":
        event["resource"] = "/executions/{action_intent_id}/status"
        event["path"] = f"/executions/{raw_id}/status"
        event["pathParameters"] = {"action_intent_id": decoded_id if decoded_id is not None else raw_id}
    else:
        event["resource"] = "/accounts/{account_id}/executions"
        event["path"] = f"/accounts/{raw_id}/executions"
        event["pathParameters"] = {"account_id": decoded_id if decoded_id is not None else raw_id}
        event["queryStringParameters"] = None
        event["multiValueQueryStringParameters"] = None
    event["requestContext"]["resourcePath"] = event["resource"]
    return event


def invoke(runtime: LocalStack, event: dict[str, Any]) -> dict[str, Any]:
    response = runtime.client("lambda").invoke(
        FunctionName=runtime.physical_name(FUNCTION), Payload=json.dumps(event).encode()
    )
    result: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    assert "Traceback" not in json.dumps(result)
    assert result["multiValueHeaders"]["Vary"] == ["Origin"]
    return result


def _assert_invalid_request(result: dict[str, Any]) -> None:
    assert result["statusCode"] == 400, result
    body = json.loads(result["body"])
    assert set(body) == {"error", "message"}
    assert body["error"] == INVALID_REQUEST
    assert isinstance(body["message"], str)
    assert body["message"]


@pytest.mark.parametrize("route", ["status", "list"])
@pytest.mark.parametrize("bad_id", BAD_IDS, ids=lambda v: repr(v)[:40])
def test_a_path_id_outside_the_identifier_rule_is_400(runtime: LocalStack, route: str, bad_id: str) -> None:
    assert not IDENTIFIER.fullmatch(bad_id)
    # As the client sent it (undecoded, which a crafted event may carry) and as API Gateway's REST
    # ``path`` carries it (percent-encoded): both are the same 400.
    _assert_invalid_request(invoke(runtime, _event(route, bad_id)))
    _assert_invalid_request(invoke(runtime, _event(route, quote(bad_id, safe=""), bad_id)))


@pytest.mark.parametrize("route", ["status", "list"])
def test_a_percent_encoded_valid_id_is_the_id(runtime: LocalStack, route: str) -> None:
    """``acct:1`` sent as ``acct%3A1`` (encodeURIComponent) is the identifier, not a 400."""
    result = invoke(runtime, _event(route, "ai-sample%3Anone", "ai-sample:none"))
    assert result["statusCode"] in {200, 403, 404}, result


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=140).filter(lambda t: not IDENTIFIER.fullmatch(t)), list_route=st.booleans())
def test_property_any_text_that_is_not_an_identifier_is_400(
    runtime: LocalStack, text: str, list_route: bool
) -> None:
    # API Gateway's REST path keeps the client's percent-encoding; any text can only arrive that way.
    event = _event("list" if list_route else "status", quote(text, safe=""), text)
    _assert_invalid_request(invoke(runtime, event))


def _broken(field: str, value: Any) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(SAMPLE)
    if field == "authorizer":
        event["requestContext"]["authorizer"] = value
    elif field == "claims":
        event["requestContext"]["authorizer"]["claims"] = value
    else:
        event[field] = value
    return event


SHAPE_FIELDS = [
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "headers",
    "multiValueHeaders",
    "stageVariables",
]
BROKEN_VALUES = [
    "a string",
    ["a", "list"],
    7,
    True,
    {"key": 7},
    {"key": None},
    {"key": {"nested": "map"}},
]


@pytest.mark.parametrize("value", BROKEN_VALUES, ids=lambda v: type(v).__name__ + repr(v)[:20])
@pytest.mark.parametrize("field", SHAPE_FIELDS)
def test_a_broken_event_shape_is_400(runtime: LocalStack, field: str, value: Any) -> None:
    if field.startswith("multiValue") and isinstance(value, dict):
        value = {k: [v] for k, v in value.items()} if value != {"key": None} else {"key": None}
    result = invoke(runtime, _broken(field, value))
    _assert_invalid_request(result)


@pytest.mark.parametrize("field", ["claims", "authorizer"])
@pytest.mark.parametrize("value", ["a string", ["a", "list"], 7, True], ids=lambda v: type(v).__name__)
def test_claims_that_are_not_a_claim_set_are_401(runtime: LocalStack, field: str, value: Any) -> None:
    result = invoke(runtime, _broken(field, value))
    assert (result["statusCode"], json.loads(result["body"])) == (401, UNAUTHORIZED)


def test_the_samples_are_valid_and_every_response_varies_on_origin(runtime: LocalStack) -> None:
    """Success, errors, and the preflight alike (``invoke`` checks the header on each)."""
    for sample in sorted((PROJECT_ROOT / "events").glob("status_api_*.json")):
        result = invoke(runtime, json.loads(sample.read_text("utf-8")))
        assert result["multiValueHeaders"]["Access-Control-Allow-Origin"] == [ORIGIN]
