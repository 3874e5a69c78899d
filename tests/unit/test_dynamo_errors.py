"""botocore failures never escape a repository untyped; transaction cancellations keep their reasons."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from execution_core.errors import (
    ConfigurationError,
    DataStoreError,
    DataStoreUnavailableError,
    KillSwitchUnavailableError,
    TransactionConditionFailedError,
)
from execution_core.repositories import ActionIntentRepository, TenantRepository, transact_write
from execution_core.repositories.dynamo import batch_get, from_item, pages, to_item
from tests.support import factories


@pytest.fixture
def client() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ProvisionedThroughputExceededException", DataStoreUnavailableError),
        ("ThrottlingException", DataStoreUnavailableError),
        ("InternalServerError", DataStoreUnavailableError),
        ("ResourceNotFoundException", ConfigurationError),
        ("AccessDeniedException", ConfigurationError),
        ("ValidationException", DataStoreError),
    ],
)
def test_client_errors_are_translated(
    client: Any, stub: Stubber, code: str, expected: type[Exception]
) -> None:
    stub.add_client_error(
        "get_item", service_error_code=code, service_message="table arn:aws:dynamodb:secret"
    )
    repo = ActionIntentRepository(client, "intents")
    with pytest.raises(expected) as info:
        repo.get("t1", "a1", "ai-1")
    assert code in str(info.value)
    assert "arn:aws" not in str(info.value)


def test_connection_failure_is_transient(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    monkeypatch.setattr(client, "get_item", fail)
    with pytest.raises(DataStoreUnavailableError):
        ActionIntentRepository(client, "intents").get("t1", "a1", "ai-1")


CHECK = {
    "ConditionCheck": {
        "TableName": "t",
        "Key": {"pk": {"S": "a"}},
        "ConditionExpression": "attribute_exists(pk)",
    }
}


def _cancelled(stub: Stubber, reasons: list[str]) -> None:
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        response_meta={},
        modeled_fields={"CancellationReasons": [{"Code": r} for r in reasons]},
    )


def test_transaction_condition_failure_carries_reasons(client: Any, stub: Stubber) -> None:
    _cancelled(stub, ["None", "ConditionalCheckFailed"])
    with pytest.raises(TransactionConditionFailedError) as info:
        transact_write(client, [CHECK, CHECK])
    assert info.value.reasons == ["None", "ConditionalCheckFailed"]
    assert [i for i in range(2) if info.value.failed(i)] == [1]


def test_transaction_conflict_is_retryable(client: Any, stub: Stubber) -> None:
    _cancelled(stub, ["TransactionConflict", "None"])
    with pytest.raises(DataStoreUnavailableError):
        transact_write(client, [CHECK, CHECK])


def test_malformed_request_is_not_retryable(client: Any) -> None:
    with pytest.raises(DataStoreError) as info:
        transact_write(client, [{"ConditionCheck": {}}])
    assert not info.value.retryable


def test_batch_get_gives_up_after_bounded_retries(client: Any, stub: Stubber) -> None:
    unprocessed = {"intents": {"Keys": [{"pk": {"S": "a"}, "sk": {"S": "b"}}]}}
    for _ in range(4):
        stub.add_response("batch_get_item", {"Responses": {"intents": []}, "UnprocessedKeys": unprocessed})
    with pytest.raises(DataStoreUnavailableError, match="unprocessed"):
        batch_get(client, unprocessed, "read")


def test_batch_get_retries_only_unprocessed_keys(client: Any, stub: Stubber) -> None:
    first = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    second = {"pk": {"S": "a"}, "sk": {"S": "2"}}
    stub.add_response(
        "batch_get_item",
        {"Responses": {"t": [first]}, "UnprocessedKeys": {"t": {"Keys": [second]}}},
        {"RequestItems": {"t": {"Keys": [first, second]}}},
    )
    stub.add_response(
        "batch_get_item", {"Responses": {"t": [second]}}, {"RequestItems": {"t": {"Keys": [second]}}}
    )
    assert batch_get(client, {"t": {"Keys": [first, second]}}, "read") == {"t": [first, second]}


def test_kill_switch_read_failure_fails_closed(client: Any, stub: Stubber) -> None:
    stub.add_client_error("batch_get_item", service_error_code="InternalServerError")
    with pytest.raises(KillSwitchUnavailableError):
        TenantRepository(client, "tenants").get_kill_switch_state("t1")


def test_codec_round_trips_floats_and_nested_values() -> None:
    intent = factories.intent()
    item = to_item(intent, pk="p", sk="s")
    assert item["parameters"]["M"]["score"] == {"N": "0.75"}
    assert item["pk"] == {"S": "p"}
    data = from_item(item)
    assert data["parameters"] == {"title": "Call back", "priority": 2, "score": 0.75, "tags": ["a", "b"]}
    assert "approval_source" in data
    assert "completed_at" not in to_item(factories.attempt())  # None is not stored


def test_pages_follow_last_evaluated_key_stop_when_the_caller_stops_and_translate_failures(
    client: Any,
) -> None:
    request = {"TableName": "t", "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {}}
    first, second = [{"pk": {"S": "a"}}], [{"pk": {"S": "b"}}]
    with Stubber(client) as stub:
        stub.add_response("query", {"Items": first, "LastEvaluatedKey": {"pk": {"S": "a"}}}, request)
        stub.add_response("query", {"Items": second}, request | {"ExclusiveStartKey": {"pk": {"S": "a"}}})
        assert list(pages(client, "query", request, "list things")) == [first, second]
        stub.assert_no_pending_responses()

        stub.add_response("query", {"Items": first, "LastEvaluatedKey": {"pk": {"S": "a"}}}, request)
        assert next(pages(client, "query", request, "list things")) == first  # no second request
        stub.assert_no_pending_responses()
        assert "ExclusiveStartKey" not in request  # the caller's request is left as it was

        stub.add_client_error("scan", service_error_code="ProvisionedThroughputExceededException")
        with pytest.raises(DataStoreUnavailableError):
            list(pages(client, "scan", {"TableName": "t"}, "list things"))
