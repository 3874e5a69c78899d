"""Every place the local runtime reaches into moto's private internals, one function per hook.

moto has no public extension points for what the runtime needs (running real handler code, isolated
transactions, Step Functions targets, fast retries, request metering; ADR 0007 and ADR 0015), so the runtime
patches a few private methods and module attributes. They live here and nowhere else, so a moto upgrade has
one file to re-check, and tests/local_runtime/test_moto_hooks.py has one guard per private symbol: it fails,
naming the hook, when the pinned moto no longer has what the hook relies on. The behaviour the hooks plug in
stays with the module that owns it (lambdas, dynamodb_isolation, eventbridge, stepfunctions_timing, metering).

A hook that patches takes the runtime's replacement (or a wrapper of the original) and returns what it
replaced, so a wrapper can call through; the others read or write moto's in-process state where the runtime
acts from inside moto's own threads (an EventBridge delivery, the Step Functions worker, a transaction).
Outside this module the runtime talks to moto only through the AWS APIs and moto's documented config API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import moto.dynamodb.models as moto_dynamodb
from moto.awslambda.models import LambdaFunction
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.events.models import Rule, events_backends
from moto.server import ThreadedMotoServer
from moto.sqs.models import sqs_backends
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.responses import get_backend
from moto.utilities.arns import parse_arn
from moto.utilities.utils import load_resource

COGNITO_SIGNING_KEY_ID = "dummy"  # the kid of every ID token moto's Cognito issues

_Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]
DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
# moto's BatchGetItem and TransactGetItems responses call get_item once per key.
DYNAMODB_READS = ("get_item", "query", "scan")
DYNAMODB_SERIALIZED = (*DYNAMODB_WRITES, *DYNAMODB_READS)  # what dynamodb_isolation.py runs behind its lock


def replace_lambda_invoke(replacement: Callable[..., tuple[str, bool, str]]) -> Callable[..., Any]:
    """``LambdaFunction._invoke_lambda(self, event)``: the single method moto runs function code with (in
    Docker; without Docker it echoes the payload). Replaced by the in-process router (lambdas.py), which
    returns moto's ``(body, errored, logs)`` triple. If moto renames it or changes its arguments, every
    invoke silently echoes its payload instead of running the handler."""
    original: Callable[..., Any] = LambdaFunction._invoke_lambda
    LambdaFunction._invoke_lambda = replacement  # type: ignore[method-assign]
    return original


def wrap_rule_delivery(wrap: _Wrapper) -> Callable[..., Any]:
    """``Rule.send_to_targets(self, original_event, transform_input=True)``: moto's EventBridge delivery,
    which raises NotImplementedError for Step Functions and Lambda targets. Wrapped (eventbridge.py) to
    deliver those asynchronously with retries and dead letters. If it changes, approvals never start the
    state machine and scheduled rules fire on every event."""
    original: Callable[..., Any] = Rule.send_to_targets
    Rule.send_to_targets = wrap(original)  # type: ignore[method-assign]
    return original


def wrap_execution_terminated(wrap: _Wrapper) -> Callable[..., Any]:
    """``BaseExecutionWorkerCommunication.terminated(self)``: the callback moto's ASL worker calls once an
    execution ends (after ``_reflect_execution_status``). Wrapped (eventbridge.py) to publish Step Functions'
    "Execution Status Change" event, which moto never emits. If it changes, the reconciler never hears of an
    aborted or timed-out execution."""
    original: Callable[..., Any] = BaseExecutionWorkerCommunication.terminated
    BaseExecutionWorkerCommunication.terminated = wrap(original)  # type: ignore[method-assign]
    return original


def execution_status_detail(worker: BaseExecutionWorkerCommunication) -> tuple[str, str, dict[str, Any]]:
    """The account, region and "Execution Status Change" detail of the execution a worker ran, read from
    moto's execution model (``exec_status``, ``exec_arn``, ``input_data``, ``start_date``, ``stop_date``,
    ``output``, ``error``, ``cause``). If moto renames them, the status-change hook raises inside moto's
    worker and the event is lost."""
    execution = worker.execution
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": execution.exec_status.value if execution.exec_status else "UNKNOWN",
        "startDate": int(execution.start_date.timestamp() * 1000),
        "stopDate": int((execution.stop_date or datetime.now(UTC)).timestamp() * 1000),
        "input": execution.input_data
        if isinstance(execution.input_data, str)
        else json.dumps(execution.input_data),
        "output": json.dumps(execution.output) if execution.output is not None else None,
        "error": getattr(execution, "error", None),
        "cause": getattr(execution, "cause", None),
    }
    return execution.account_id, execution.region_name, detail


def start_execution(state_machine_arn: str, name: str, execution_input: str) -> None:
    """Start an execution on moto's in-process Step Functions backend (``moto.stepfunctions.responses.
    get_backend``: the executing backend once ``execute_state_machine`` is on), from inside moto's own
    EventBridge delivery, where a round trip through the HTTP server is not needed."""
    arn = parse_arn(state_machine_arn)
    get_backend(arn.account, arn.region).start_execution(
        state_machine_arn, name=name, execution_input=execution_input
    )


def send_sqs_message(queue_arn: str, body: str, attributes: dict[str, str]) -> None:
    """Send a message with string attributes on moto's in-process SQS backend (``sqs_backends``): an
    EventBridge dead letter, sent from inside moto's delivery thread."""
    arn = parse_arn(queue_arn)
    backend = sqs_backends[arn.account][arn.region]
    backend.send_message(
        backend.get_queue(arn.resource_id).name,
        body,
        message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )


def put_events(account: str, region: str, entries: list[dict[str, Any]]) -> None:
    """PutEvents on moto's in-process EventBridge backend (``events_backends``), from inside the Step
    Functions worker's callback."""
    events_backends[account][region].put_events(entries)


def set_retry_clock(clock: Any) -> None:
    """The ``time`` module inside moto's private ``retrier_decl``: ``RetrierDecl._eval_body`` waits with
    ``time.sleep(interval_seconds)`` between Retry attempts. Replaced by a scaled clock
    (stepfunctions_timing.py) so fault tests run in seconds. If moto sleeps some other way, the suite still
    passes but every retry waits in full (minutes per crash-matrix case)."""
    setattr(retrier_decl, "time", clock)  # noqa: B010 - a private module attribute


def retry_clock() -> Any:
    """What ``retrier_decl`` currently sleeps on (the ``time`` module, or the runtime's scaled clock)."""
    return getattr(retrier_decl, "time")  # noqa: B009 - a private module attribute


def set_dynamodb_copy(stand_in: Any) -> None:
    """The ``copy`` module inside ``moto.dynamodb.models``: ``DynamoDBBackend.transact_write_items`` deep
    copies every table it touches with ``copy.deepcopy`` to restore on cancellation. Replaced by a stand-in
    that "copies" a Table as itself (dynamodb_isolation.py keeps an undo log instead). If moto snapshots some
    other way, transactions get slow again (the copy grows with the table), or, if it stops restoring, a
    cancelled transaction leaves partial writes behind the undo log's back."""
    setattr(moto_dynamodb, "copy", stand_in)  # noqa: B010 - a private module attribute


def dynamodb_copy() -> Any:
    """What moto's DynamoDB backend currently copies tables with."""
    return getattr(moto_dynamodb, "copy", None)


def wrap_dynamodb_method(name: str, wrap: _Wrapper) -> Callable[..., Any]:
    """A read or write method of ``DynamoDBBackend`` (one of DYNAMODB_SERIALIZED), wrapped by
    dynamodb_isolation.py to run it behind one lock (moto's transactions are not isolated) and, for
    ``transact_write_items(self, transact_items)``, to keep the undo log. If a name disappears, that path
    runs unserialized: concurrent writes corrupt each other's items, a read sees a cancelled transaction."""
    original: Callable[..., Any] = getattr(DynamoDBBackend, name)
    setattr(DynamoDBBackend, name, wrap(original))
    return original


def wrap_stream_read(wrap: _Wrapper) -> Callable[..., Any]:
    """``DynamoDBStreamsBackend.get_records(self, iterator_arn, limit)``, wrapped by dynamodb_isolation.py
    so a stream is read only between writes: a record of a transaction still being applied (and perhaps
    cancelled, then truncated away) is never handed out. If moto renames it, stream pollers can publish
    what was never written and skip the record that reuses its sequence number."""
    original: Callable[..., Any] = DynamoDBStreamsBackend.get_records
    DynamoDBStreamsBackend.get_records = wrap(original)  # type: ignore[method-assign]
    return original


def stream_read() -> Callable[..., Any]:
    """``DynamoDBStreamsBackend.get_records`` as it is now (wrapped once the runtime is installed)."""
    method: Callable[..., Any] = DynamoDBStreamsBackend.get_records
    return method


def dynamodb_method(name: str) -> Callable[..., Any]:
    """The ``DynamoDBBackend`` method as it is now (wrapped once the runtime is installed)."""
    method: Callable[..., Any] = getattr(DynamoDBBackend, name)
    return method


def restore_table_item(
    table: Table, hash_key: DynamoType, range_key: DynamoType | None, item: Item | None
) -> None:
    """Put one item of a moto ``Table`` back as it was (None: absent), writing its private ``items`` store
    directly (``{hash: Item}``, or ``{hash: {range: Item}}`` with a range key) so nothing is streamed or
    validated again: the undo of a cancelled transaction (dynamodb_isolation.py). If moto changes that
    layout, a cancelled transaction leaves its partial writes in place."""
    items = table.items
    if range_key is not None:
        if item is None:
            items.get(hash_key, {}).pop(range_key, None)
        else:
            items[hash_key][range_key] = item
    elif item is None:
        items.pop(hash_key, None)
    else:
        items[hash_key] = item  # type: ignore[assignment]


def stream_length(shard: StreamShard) -> int:
    """How many records a table's ``StreamShard`` holds (its ``items`` list, appended to on every write)."""
    return len(shard.items)


def truncate_stream(shard: StreamShard, length: int) -> None:
    """Drop the stream records a cancelled transaction appended after ``length``. If moto stops keeping
    them in ``StreamShard.items``, the outbox publisher publishes outcomes that were never written."""
    del shard.items[length:]


def wrap_server_app[M](server: ThreadedMotoServer, middleware: Callable[[Any], M]) -> M | None:
    """``ThreadedMotoServer._server``, the werkzeug server (its ``.app`` the WSGI application) a started
    server holds. Wrapped with the request meter (metering.py) so the benchmarks count the AWS calls an
    execution makes. Returns the middleware, or None when the server holds no werkzeug server; if moto
    renames it, there is no meter and the cost benchmarks have nothing to count."""
    wsgi_server = server._server
    if wsgi_server is None:
        return None
    wrapped = middleware(wsgi_server.app)
    wsgi_server.app = wrapped  # type: ignore[assignment]  # the middleware is a WSGI app too
    return wrapped


def cognito_signing_jwk() -> dict[str, Any]:
    """The private JWK moto's Cognito signs every ID token with (``cognitoidp/resources/jwks-private.json``,
    kid "dummy"), which the status API auth tests use to forge tokens that fail exactly one check. If moto
    moves it or signs otherwise, those tests cannot build their tokens."""
    jwk: dict[str, Any] = load_resource("cognitoidp/resources/jwks-private.json")
    return jwk


def stop_server(server: ThreadedMotoServer, ready_timeout: float = 10.0) -> None:
    """Stop a ``ThreadedMotoServer`` even if its start was interrupted: reads the private ``_thread``,
    ``_server_ready_event`` and ``_server``. A start interrupted while moto's thread was still binding would
    make ``stop()`` wait forever, so this waits for readiness first and stops only a server that exists. If
    moto renames them, LocalEmulator.stop() raises AttributeError (or hangs) after an interrupted start."""
    if server._thread is not None:
        server._server_ready_event.wait(ready_timeout)
    if server._server is not None:
        server.stop()
