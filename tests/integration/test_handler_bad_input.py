"""Malformed input to every handler: a classified VALIDATION error (InvalidInputError), nothing written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_runtime.emulator import LocalStack
from local_runtime.template import load_raw_template

pytestmark = pytest.mark.emulator

FUNCTIONS = sorted(
    lid for lid, r in load_raw_template()["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
)
TABLES = sorted(
    lid for lid, r in load_raw_template()["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"
)
BAD_PAYLOADS: list[Any] = [
    {},
    "not an object",
    [1, 2, 3],
    {"unexpected": True},
    {
        "event": {"detail": {"action_intent_id": "a#b", "tenant_id": "t", "account_id": "a"}},
        "execution_id": "x",
    },
    {"detail": {"action_intent_id": "ok", "tenant_id": "../../etc", "account_id": 7}, "failure": "boom"},
]


def _item_counts(runtime: LocalStack) -> dict[str, int]:
    ddb = runtime.client("dynamodb")
    return {t: ddb.scan(TableName=runtime.physical_name(t), Select="COUNT")["Count"] for t in TABLES}


def _object_count(runtime: LocalStack) -> int:
    listing = runtime.client("s3").list_objects_v2(Bucket=runtime.physical_name("ArtifactsBucket"))
    return int(listing.get("KeyCount", 0))


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_bad_input_is_a_classified_error_and_writes_nothing(runtime: LocalStack, function_id: str) -> None:
    lam = runtime.client("lambda")
    before = (_item_counts(runtime), _object_count(runtime))
    for payload in BAD_PAYLOADS:
        response = lam.invoke(FunctionName=runtime.physical_name(function_id), Payload=json.dumps(payload))
        body = json.loads(response["Payload"].read())
        assert response.get("FunctionError"), (function_id, payload)
        assert body["errorType"] == "InvalidInputError", (function_id, payload, body)
        assert "Traceback" not in body["errorMessage"]
        assert len(body["errorMessage"]) <= 256
    assert (_item_counts(runtime), _object_count(runtime)) == before
