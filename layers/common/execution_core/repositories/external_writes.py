"""ExternalWrites table: adapter-level dedupe. Reserve before calling a tool, finalize after."""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from execution_core.errors import StateConflictError
from execution_core.models.adapters import ExternalWriteRecord, ExternalWriteStatus
from execution_core.models.common import format_timestamp
from execution_core.models.execution import ExternalObjectRef
from execution_core.repositories.base import TableRepository
from execution_core.repositories.dynamo import (
    Item,
    TransactItem,
    dynamo_errors,
    is_condition_failure,
    key,
    model_from_item,
    old_item,
    to_item,
    values,
)

STORAGE_ATTRIBUTES = ("pk",)


class ExternalWriteRepository(TableRepository):
    def reserve_item(self, record: ExternalWriteRecord) -> TransactItem:
        """TransactWriteItems entry: (re)reserve the write unless it already COMPLETED.

        A PENDING reservation may be taken again: the write it guards is an upsert by this key, so
        repeating it is safe. Each reservation is counted (an Update, not a Put, so the count survives):
        a write reserved more than once may have been sent by an attempt that never heard back. A completed
        write is never reserved again; the cancelled transaction returns the stored record, which the
        adapter replays.
        """
        if record.status is not ExternalWriteStatus.PENDING:
            raise StateConflictError("A reservation is PENDING")
        fields = {name: value for name, value in to_item(record).items() if name != "reservations"}
        names = {f"#{name}": name for name in fields}
        assignments = [f"#{name} = :{name}" for name in fields]
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(pk=record.idempotency_key),
                "UpdateExpression": "SET "
                + ", ".join([*assignments, "reservations = if_not_exists(reservations, :none) + :one"]),
                "ConditionExpression": "attribute_not_exists(pk) OR #status = :pending",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {
                    **{f":{name}": value for name, value in fields.items()},
                    **values(none=0, one=1, pending=ExternalWriteStatus.PENDING.value),
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def completed_check(self, idempotency_key: str, object_id: str) -> TransactItem:
        """TransactWriteItems ConditionCheck: the write completed and created ``object_id``."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": key(pk=idempotency_key),
                "ConditionExpression": "#status = :completed AND refs[0].object_id = :oid",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": values(
                    completed=ExternalWriteStatus.COMPLETED.value, oid=object_id
                ),
            }
        }

    def unchanged_check(self, idempotency_key: str, status: ExternalWriteStatus | None) -> TransactItem:
        """TransactWriteItems ConditionCheck: the write is still absent (None) or still ``status``."""
        check: dict[str, Any] = {"TableName": self._table, "Key": key(pk=idempotency_key)}
        if status is None:
            check["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            check["ConditionExpression"] = "#status = :status"
            check["ExpressionAttributeNames"] = {"#status": "status"}
            check["ExpressionAttributeValues"] = values(status=status.value)
        return {"ConditionCheck": check}

    def parse_item(self, item: Item) -> ExternalWriteRecord:
        return model_from_item(ExternalWriteRecord, item, STORAGE_ATTRIBUTES)

    def finalize(
        self,
        idempotency_key: str,
        refs: Sequence[ExternalObjectRef],
        now: datetime,
        *,
        raw_response: Mapping[str, Any] | None = None,
    ) -> ExternalWriteRecord:
        """PENDING → COMPLETED with the created objects; finalizing a completed write returns it unchanged."""
        plain_refs = [json.loads(ref.model_dump_json(exclude_none=True)) for ref in refs]
        update = "SET #status = :completed, refs = :refs, completed_at = :now"
        extra: dict[str, Any] = {}
        if raw_response is not None:
            update += ", raw_response = :raw"
            extra["raw"] = json.loads(json.dumps(raw_response), parse_float=Decimal)
        with dynamo_errors("finalize external write"):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=key(pk=idempotency_key),
                    UpdateExpression=update,
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values(
                        completed=ExternalWriteStatus.COMPLETED.value,
                        pending=ExternalWriteStatus.PENDING.value,
                        refs=plain_refs,
                        now=format_timestamp(now),
                        **extra,
                    ),
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return model_from_item(ExternalWriteRecord, response["Attributes"], STORAGE_ATTRIBUTES)
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                item = old_item(exc)
        existing = (
            model_from_item(ExternalWriteRecord, item, STORAGE_ATTRIBUTES)
            if item
            else self.get(idempotency_key)
        )
        if existing is None:
            raise StateConflictError("The external write was never reserved")
        return existing

    def release(self, idempotency_key: str, *, only_if_reserved_once: bool = False) -> bool:
        """Drop a PENDING reservation after a definite tool failure so a retry may call again; False if
        it is not PENDING (or, with ``only_if_reserved_once``, was reserved by more than one attempt)."""
        condition = "#status = :pending"
        extra: dict[str, Any] = {}
        if only_if_reserved_once:
            condition += " AND (attribute_not_exists(reservations) OR reservations = :one)"
            extra["one"] = 1
        with dynamo_errors("release external write"):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key=key(pk=idempotency_key),
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values(pending=ExternalWriteStatus.PENDING.value, **extra),
                )
            except ClientError as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True

    def get(self, idempotency_key: str) -> ExternalWriteRecord | None:
        with dynamo_errors("get external write"):
            response = self._client.get_item(
                TableName=self._table, Key=key(pk=idempotency_key), ConsistentRead=True
            )
        item = response.get("Item")
        return model_from_item(ExternalWriteRecord, item, STORAGE_ATTRIBUTES) if item else None
