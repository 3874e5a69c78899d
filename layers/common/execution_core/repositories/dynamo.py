"""DynamoDB plumbing shared by the repositories: item codec, error translation, transactions, batch reads.

Repositories never let a botocore exception escape: a failed condition becomes a domain result, anything
else becomes a typed ExecutionError whose class decides whether Step Functions retries.
"""

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pydantic
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from execution_core.errors import (
    ConfigurationError,
    DataStoreError,
    DataStoreUnavailableError,
    ExecutionError,
    StateConflictError,
    TransactionConditionFailedError,
)

type AttributeValue = dict[str, Any]
type Item = dict[str, AttributeValue]
type TransactItem = dict[str, Any]
"""One entry of TransactWriteItems (``{"Put": ...}``, ``{"Update": ...}``, ``{"ConditionCheck": ...}``)."""

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
        "ExpiredTokenException",
    }
)
_CONFIGURATION_CODES = frozenset(
    {"ResourceNotFoundException", "AccessDeniedException", "UnrecognizedClientException"}
)
_TRANSIENT_CANCELLATION_CODES = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
CONDITION_FAILED = "ConditionalCheckFailed"
BATCH_GET_MAX_ATTEMPTS = 4


def to_item(model: pydantic.BaseModel, **storage_attributes: str | int) -> Item:
    """Serialize a model plus its key/index/TTL attributes; floats travel as Decimal, None is omitted."""
    data: dict[str, Any] = json.loads(model.model_dump_json(exclude_none=True), parse_float=Decimal)
    data.update(storage_attributes)
    return {name: _serializer.serialize(value) for name, value in data.items()}


def from_item(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def model_from_item[M: pydantic.BaseModel](
    model: type[M], item: Mapping[str, AttributeValue], storage_attributes: Sequence[str]
) -> M:
    """Parse a stored item back into ``model``, ignoring the repository's own key attributes."""
    data = {k: v for k, v in from_item(item).items() if k not in storage_attributes}
    try:
        return model.model_validate(data)
    except pydantic.ValidationError:
        raise DataStoreError(f"A stored {model.__name__} record has an unexpected shape") from None


def key(**parts: str) -> Item:
    return {name: {"S": value} for name, value in parts.items()}


def values(**named: Any) -> Item:
    """ExpressionAttributeValues from keyword arguments: ``values(now=1)`` gives ``{":now": {"N": "1"}}``."""
    return {f":{name}": _serializer.serialize(_decimal(value)) for name, value in named.items()}


def string_key(item: Mapping[str, AttributeValue] | None) -> dict[str, str] | None:
    """A LastEvaluatedKey as plain strings, for opaque pagination tokens (all our keys are strings)."""
    if not item:
        return None
    return {name: str(_deserializer.deserialize(value)) for name, value in item.items()}


def is_condition_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def old_item(exc: ClientError) -> Item | None:
    """The item returned with ReturnValuesOnConditionCheckFailure=ALL_OLD, if any."""
    item = exc.response.get("Item")
    return item if isinstance(item, dict) and item else None


def translate(exc: ClientError | BotoCoreError, action: str) -> ExecutionError:
    if isinstance(exc, BotoCoreError):
        if isinstance(exc, (BotoConnectionError, HTTPClientError)):
            return DataStoreUnavailableError(f"{action}: the data store could not be reached")
        if isinstance(exc, NoCredentialsError):
            return ConfigurationError(f"{action}: no AWS credentials available")
        return DataStoreError(f"{action}: {type(exc).__name__}")  # e.g. a malformed request
    code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
    if code in _TRANSIENT_CODES:
        return DataStoreUnavailableError(f"{action}: {code}")
    if code in _CONFIGURATION_CODES:
        return ConfigurationError(f"{action}: {code}; check the table name and the function's permissions")
    return DataStoreError(f"{action}: {code}")


@contextmanager
def dynamo_errors(action: str) -> Iterator[None]:
    """Translate any botocore failure inside the block; handle expected conditions inside it first."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action) from exc


def pages(client: Any, operation: str, request: Mapping[str, Any], action: str) -> Iterator[list[Item]]:
    """The items of each page of a Query or Scan (``operation``), following LastEvaluatedKey; a caller
    that stops iterating stops reading. Failures are translated as in ``dynamo_errors``."""
    request = dict(request)
    with dynamo_errors(action):
        while True:
            response = getattr(client, operation)(**request)
            yield response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def transact_write(
    client: Any, entries: Sequence[TransactItem], client_request_token: str | None = None
) -> None:
    """Run one TransactWriteItems call; cancellations become typed errors carrying per-entry reasons.

    Pass a ``client_request_token`` derived from the intent so a retried call within DynamoDB's
    10-minute window is recognised as the same transaction.
    """
    request: dict[str, Any] = {"TransactItems": list(entries)}
    if client_request_token:
        request["ClientRequestToken"] = client_request_token
    try:
        client.transact_write_items(**request)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "TransactionCanceledException":
            cancellations = exc.response.get("CancellationReasons", [])
            reasons = [str(r.get("Code", "None")) for r in cancellations]
            if _TRANSIENT_CANCELLATION_CODES.intersection(reasons):
                raise DataStoreUnavailableError("transaction cancelled by a conflict; retry") from exc
            if CONDITION_FAILED in reasons:
                items = [r.get("Item") or None for r in cancellations]
                raise TransactionConditionFailedError(reasons, items) from exc
            raise DataStoreError(f"transaction cancelled; reasons: {', '.join(reasons)}") from exc
        if code == "IdempotentParameterMismatchException":
            raise StateConflictError("transaction token reused with different content") from exc
        raise translate(exc, "transaction") from exc
    except BotoCoreError as exc:
        raise translate(exc, "transaction") from exc


def batch_get(client: Any, request_items: dict[str, Any], action: str) -> dict[str, list[Item]]:
    """BatchGetItem with a bounded retry of UnprocessedKeys (short backoff; the caller owns real retries)."""
    found: dict[str, list[Item]] = {table: [] for table in request_items}
    pending = request_items
    for attempt in range(BATCH_GET_MAX_ATTEMPTS):
        with dynamo_errors(action):
            response = client.batch_get_item(RequestItems=pending)
        for table, items in response.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        pending = response.get("UnprocessedKeys") or {}
        if not pending:
            return found
        time.sleep(0.02 * 2**attempt)
    raise DataStoreUnavailableError(
        f"{action}: keys left unprocessed after {BATCH_GET_MAX_ATTEMPTS} attempts"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def _decimal(value: Any) -> Any:
    return Decimal(str(value)) if isinstance(value, float) else value
