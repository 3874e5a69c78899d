"""A guard per private moto symbol the local runtime relies on (all touched in local_runtime/moto_hooks.py).

moto is pinned; when an upgrade renames or reshapes one of these, the guard naming its hook fails here,
instead of the runtime silently echoing payloads, losing events or waiting out every retry in full.
"""

from __future__ import annotations

import inspect
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import moto.dynamodb.models as moto_dynamodb
import pytest
from moto.awslambda.models import LambdaFunction
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.events.models import EventPattern, EventsBackend, Rule
from moto.server import ThreadedMotoServer
from moto.sqs.models import SQSBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local_runtime import moto_hooks, stepfunctions_timing
from local_runtime.emulator import LocalEmulator, LocalStack
from local_runtime.metering import RequestMeter

pytestmark = pytest.mark.emulator


def _params(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


# ---------------------------------------------------------------- replace_lambda_invoke (lambdas.py)
def test_moto_still_has_the_hooked_method() -> None:
    params = list(inspect.signature(LambdaFunction._invoke_lambda).parameters)
    assert params[:2] == ["self", "event"], "moto changed LambdaFunction._invoke_lambda; re-check the hook"


def test_replace_lambda_invoke_is_in_place(local_emulator: LocalEmulator) -> None:
    assert LambdaFunction._invoke_lambda.__qualname__.startswith("InProcessLambdaRouter."), (
        "moto_hooks.replace_lambda_invoke: LambdaFunction._invoke_lambda is not the in-process router"
    )


@pytest.mark.parametrize("attribute", ["function_name", "version", "function_arn"])
def test_a_lambda_function_still_has_what_the_router_reads(attribute: str) -> None:
    source = inspect.getsource(LambdaFunction.__init__)
    assert re.search(rf"self\.{attribute}\b(: [^=]+)? =", source), (
        f"moto_hooks.replace_lambda_invoke: the router reads LambdaFunction.{attribute}, which moto dropped"
    )


# ---------------------------------------------------------------- wrap_rule_delivery (eventbridge.py)
def test_eventbridge_delivers_to_a_state_machine_target() -> None:
    """The EventBridge → Step Functions hook relies on a private moto method: fail loudly if it moved."""
    params = list(inspect.signature(Rule.send_to_targets).parameters)
    assert params[:2] == ["self", "original_event"]
    assert "transform_input" in params, "moto_hooks.wrap_rule_delivery: send_to_targets lost transform_input"


@pytest.mark.parametrize("attribute", ["event_pattern", "scheduled_expression", "targets"])
def test_a_rule_still_has_what_the_delivery_wrapper_reads(attribute: str) -> None:
    assert f"self.{attribute} =" in inspect.getsource(Rule.__init__), (
        f"moto_hooks.wrap_rule_delivery: eventbridge's wrapper reads Rule.{attribute}, which moto dropped"
    )
    assert _params(EventPattern.matches_event)[:2] == ["self", "event"], (
        "moto_hooks.wrap_rule_delivery: EventPattern.matches_event changed"
    )


# ---------------------------------------- wrap_execution_terminated, execution_status_detail (eventbridge.py)
def test_step_functions_still_reports_the_end_of_an_execution_through_the_hooked_callback() -> None:
    """Status-change events are published from the worker's `terminated` callback (a private moto method)."""
    assert getattr(BaseExecutionWorkerCommunication.terminated, "__name__", "") == "terminated"
    assert "_reflect_execution_status" in inspect.getsource(BaseExecutionWorkerCommunication)


def test_the_terminated_callback_takes_only_the_worker() -> None:
    assert _params(BaseExecutionWorkerCommunication.terminated) == ["self"], (
        "moto_hooks.wrap_execution_terminated: moto changed BaseExecutionWorkerCommunication.terminated"
    )
    assert "self.execution" in inspect.getsource(BaseExecutionWorkerCommunication.__init__), (
        "moto_hooks.execution_status_detail: the worker no longer holds its execution as .execution"
    )


@pytest.mark.parametrize(
    "attribute",
    [
        "name", "exec_arn", "account_id", "region_name", "state_machine", "input_data", "exec_status",
        "stop_date", "output", "error", "cause", "start_date",
    ],
)  # fmt: skip
def test_an_execution_still_has_what_the_status_change_event_reads(attribute: str) -> None:
    assert f"self.{attribute} =" in inspect.getsource(Execution.__init__), (
        f"moto_hooks.execution_status_detail: moto's Execution no longer sets .{attribute}"
    )


# ---------------------------------------------------------------- in-process backends (eventbridge.py)
def test_the_in_process_backends_still_take_what_the_hooks_pass() -> None:
    assert {"state_machine_arn", "name", "execution_input"} <= set(
        _params(StepFunctionsParserBackend.start_execution)
    ), "moto_hooks.start_execution: moto changed StepFunctionsParserBackend.start_execution"
    assert {"queue_name", "message_body", "message_attributes"} <= set(_params(SQSBackend.send_message)), (
        "moto_hooks.send_sqs_message: moto changed SQSBackend.send_message"
    )
    assert _params(SQSBackend.get_queue)[:2] == ["self", "queue_name"], (
        "moto_hooks.send_sqs_message: moto changed SQSBackend.get_queue"
    )
    assert _params(EventsBackend.put_events)[:2] == ["self", "events"], (
        "moto_hooks.put_events: moto changed EventsBackend.put_events"
    )


# ---------------------------------------------------------------- set_retry_clock (stepfunctions_timing.py)
def test_moto_retries_still_wait_through_the_scaled_clock(local_emulator: LocalEmulator) -> None:
    """The retry waits are shortened by replacing the clock retrier_decl sleeps on (a private module)."""
    source = inspect.getsource(retrier_decl.RetrierDecl._eval_body)
    assert "time.sleep(interval_seconds)" in source, "moto changed how retries wait; re-check the hook"
    assert isinstance(retrier_decl.time, stepfunctions_timing.ScaledTime)  # type: ignore[attr-defined]
    assert stepfunctions_timing.current_scale() < 1


# ---------------------------------------------------------------- dynamodb_isolation.py's hooks
def test_moto_dynamodb_writes_are_serialized(local_emulator: LocalEmulator) -> None:
    """moto's transactions are not isolated; the runtime's lock must be in place (see dynamodb_isolation)."""
    from local_runtime import dynamodb_isolation

    assert dynamodb_isolation.installed()


def test_every_wrapped_dynamodb_method_still_exists() -> None:
    missing = [name for name in moto_hooks.DYNAMODB_SERIALIZED if not hasattr(DynamoDBBackend, name)]
    assert not missing, f"moto_hooks.wrap_dynamodb_method: DynamoDBBackend no longer has {missing}"
    assert hasattr(moto_dynamodb, "copy"), "moto_hooks.set_dynamodb_copy: moto.dynamodb.models has no copy"
    inner: Any = inspect.unwrap(DynamoDBBackend.transact_write_items)
    assert _params(inner)[:2] == ["self", "transact_items"], (
        "moto_hooks.wrap_dynamodb_method: moto changed DynamoDBBackend.transact_write_items"
    )


def test_the_wrapped_stream_read_still_exists() -> None:
    inner: Any = inspect.unwrap(DynamoDBStreamsBackend.get_records)
    assert _params(inner)[:3] == ["self", "iterator_arn", "limit"], (
        "moto_hooks.wrap_stream_read: moto changed DynamoDBStreamsBackend.get_records"
    )


def _assert_waits_for_a_write(read: Callable[[], object], what: str) -> None:
    """While a write holds the emulator's lock, ``read`` waits; it answers as soon as the write is done."""
    from local_runtime import dynamodb_isolation

    answered = threading.Event()

    def run() -> None:
        read()
        answered.set()

    with dynamodb_isolation._lock:  # a write in progress
        reader = threading.Thread(target=run, daemon=True)
        reader.start()
        assert not answered.wait(0.5), f"{what} answered in the middle of a write"
    assert answered.wait(10), f"{what} never answered once the write was done"
    reader.join(10)


def test_a_stream_is_read_only_between_writes(runtime: LocalStack) -> None:
    """While a write holds the lock (a transaction being applied, whose records may yet be truncated
    away), a stream read waits; it answers as soon as the write is done (moto_hooks.wrap_stream_read)."""
    table = runtime.physical_name("ExecutionOutcomesTable")
    stream_arn = runtime.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = runtime.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="LATEST")
    _assert_waits_for_a_write(
        lambda: streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1), "a stream read"
    )


def _item_read(runtime: LocalStack, operation: str) -> Callable[[], object]:
    """One item read of the given kind against the tenants table (the item need not exist)."""
    table = runtime.physical_name("TenantsTable")
    dynamodb = runtime.client("dynamodb")
    schema = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
    key = {element["AttributeName"]: {"S": "no-such-item"} for element in schema}
    hash_key = next(e["AttributeName"] for e in schema if e["KeyType"] == "HASH")
    reads: dict[str, Callable[[], object]] = {
        "GetItem": lambda: dynamodb.get_item(TableName=table, Key=key),
        "Query": lambda: dynamodb.query(
            TableName=table,
            KeyConditionExpression="#h = :h",
            ExpressionAttributeNames={"#h": hash_key},
            ExpressionAttributeValues={":h": {"S": "no-such-item"}},
        ),
        "Scan": lambda: dynamodb.scan(TableName=table, Limit=1),
        "BatchGetItem": lambda: dynamodb.batch_get_item(RequestItems={table: {"Keys": [key]}}),
        "TransactGetItems": lambda: dynamodb.transact_get_items(
            TransactItems=[{"Get": {"TableName": table, "Key": key}}]
        ),
    }
    return reads[operation]


@pytest.mark.parametrize("operation", ["GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"])
def test_an_item_read_waits_for_a_write_in_progress(runtime: LocalStack, operation: str) -> None:
    """While a write holds the lock (a transaction whose items may yet be put back by the undo log), an
    item read waits, so it never sees an uncommitted write; it answers once the write is done
    (moto_hooks.DYNAMODB_READS)."""
    read = _item_read(runtime, operation)
    read()  # the client has its connection before the lock is taken
    _assert_waits_for_a_write(read, operation)


@pytest.mark.parametrize("response", ["batch_get_item", "transact_get_items"])
def test_moto_still_reads_a_batch_key_by_key(response: str) -> None:
    """DYNAMODB_READS covers BatchGetItem and TransactGetItems only because moto serves them through
    get_item, once per key."""
    from moto.dynamodb.responses import DynamoHandler

    source = inspect.getsource(getattr(DynamoHandler, response))
    assert "self.dynamodb_backend.get_item(" in source, f"moto changed DynamoHandler.{response}"


@pytest.mark.parametrize("attribute", ["hash_key_attr", "range_key_attr", "items", "stream_shard"])
def test_a_table_still_has_what_the_undo_log_reads(attribute: str) -> None:
    assert f"self.{attribute}" in inspect.getsource(Table.__init__), (
        f"moto_hooks.restore_table_item / dynamodb_isolation: moto's Table no longer sets .{attribute}"
    )
    assert "self.tables" in inspect.getsource(DynamoDBBackend.__init__), (
        "dynamodb_isolation: DynamoDBBackend no longer keeps its tables in .tables"
    )


def test_a_stream_shard_still_keeps_its_records_in_a_list() -> None:
    assert "self.items: list[StreamRecord] = []" in inspect.getsource(StreamShard.__init__), (
        "moto_hooks.stream_length / truncate_stream: StreamShard no longer keeps records in .items"
    )


def test_a_cancelled_transaction_leaves_no_partial_write_and_no_stream_record(runtime: LocalStack) -> None:
    """The undo log that replaces moto's whole-table snapshot puts every named item back, streams included
    (moto_hooks.set_dynamodb_copy, restore_table_item, truncate_stream)."""
    hooked: Any = moto_dynamodb.DynamoDBBackend.transact_write_items  # serialized(undo-logged(moto's))
    source = inspect.getsource(hooked.__wrapped__.__wrapped__)
    assert "copy.deepcopy(" in source, "moto changed how transactions snapshot tables; re-check the undo log"
    ddb = runtime.client("dynamodb")
    outcomes = runtime.physical_name("ExecutionOutcomesTable")
    key = {"pk": {"S": f"TENANT#undo-{time.time_ns()}#ACCOUNT#a"}, "sk": {"S": "OUTCOME#x"}}
    ddb.put_item(TableName=outcomes, Item={**key, "v": {"S": "before"}})
    table = moto_dynamodb.dynamodb_backends["123456789012"]["us-east-1"].tables[outcomes]
    shard = table.stream_shard
    assert shard is not None
    fresh = {"pk": {"S": key["pk"]["S"] + "-new"}, "sk": {"S": "OUTCOME#y"}}
    blocker = {"pk": {"S": key["pk"]["S"] + "-blocker"}, "sk": {"S": "OUTCOME#z"}}
    ddb.put_item(TableName=outcomes, Item=blocker)
    records_before = len(shard.items)

    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": outcomes, "Item": {**key, "v": {"S": "changed"}}}},
                {"Put": {"TableName": outcomes, "Item": {**fresh, "v": {"S": "new"}}}},
                {
                    "ConditionCheck": {
                        "TableName": outcomes,
                        "Key": blocker,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    assert ddb.get_item(TableName=outcomes, Key=key)["Item"]["v"] == {"S": "before"}
    assert "Item" not in ddb.get_item(TableName=outcomes, Key=fresh)
    assert len(shard.items) == records_before
    assert moto_dynamodb.dynamodb_backends["123456789012"]["us-east-1"].tables[outcomes] is table


# ---------------------------------------------------------------- wrap_server_app (metering), stop_server
def test_the_request_meter_wraps_the_running_server(local_emulator: LocalEmulator) -> None:
    """moto_hooks.wrap_server_app: the started server's private werkzeug server serves through the meter,
    and the meter counts a signed request by its service."""
    server: Any = local_emulator._server
    assert server is not None
    assert server._server is not None, "moto_hooks.wrap_server_app: ThreadedMotoServer._server is gone"
    assert isinstance(server._server.app, RequestMeter), (
        "moto_hooks.wrap_server_app: the meter is not in place"
    )
    assert local_emulator.meter is server._server.app
    before = local_emulator.meter.snapshot()["sqs"]
    boto3.client(
        "sqs", endpoint_url=local_emulator.endpoint_url, region_name=local_emulator.region
    ).list_queues()
    assert local_emulator.meter.snapshot()["sqs"] == before + 1


# ---------------------------------------------------------------- cognito_signing_jwk (status API auth tests)
def test_moto_cognito_still_signs_with_the_key_the_auth_tests_forge_with() -> None:
    from moto.cognitoidp.models import CognitoIdpUserPool

    jwk = moto_hooks.cognito_signing_jwk()
    assert (jwk.get("kid"), jwk.get("alg"), "d" in jwk) == (
        moto_hooks.COGNITO_SIGNING_KEY_ID,
        "RS256",
        True,
    ), "moto_hooks.cognito_signing_jwk: moto's Cognito signing key moved or changed"
    assert "jwks-private.json" in inspect.getsource(CognitoIdpUserPool.__init__), (
        "moto_hooks.cognito_signing_jwk: moto's Cognito no longer signs with jwks-private.json"
    )


def test_moto_server_still_has_what_an_interrupted_stop_waits_on() -> None:
    """LocalEmulator.stop() reads ThreadedMotoServer's private _thread, _server_ready_event and _server, so
    that a start interrupted while moto's thread was binding does not hang the stop."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    assert server._thread is None
    assert server._server is None
    assert hasattr(server._server_ready_event, "wait")


def test_stop_server_on_a_server_never_started_does_nothing() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto_hooks.stop_server(server, ready_timeout=0.1)  # would raise AttributeError if the names moved
    assert moto_hooks.wrap_server_app(server, RequestMeter) is None
