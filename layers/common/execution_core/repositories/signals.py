"""Signals table: execution outcome signals in the perception layer's camelCase item shape."""

from typing import Any

from execution_core.errors import InvalidInputError
from execution_core.models.signal import Signal
from execution_core.repositories import keys
from execution_core.repositories.base import Page, TableRepository, start_key
from execution_core.repositories.dynamo import (
    Item,
    TransactItem,
    dynamo_errors,
    key,
    model_from_item,
    string_key,
    to_item,
    values,
)

TTL_ATTRIBUTE = "expiresAtEpoch"
INDEX_ATTRIBUTE = "tenantAccountId"
STORAGE_ATTRIBUTES = (TTL_ATTRIBUTE, INDEX_ATTRIBUTE)
ACCOUNT_TIME_INDEX = "AccountTimeIndex"
MAX_PAGE_SIZE = 100


class SignalRepository(TableRepository):
    def _item(self, signal: Signal) -> Item:
        storage: dict[str, str | int] = {
            INDEX_ATTRIBUTE: keys.signal_tenant_account(signal.tenant_id, signal.account_id)
        }
        if signal.ttl.expires_at is not None:
            storage[TTL_ATTRIBUTE] = int(signal.ttl.expires_at.timestamp())
        return to_item(signal, **storage)

    def signal_put_item(self, signal: Signal) -> TransactItem:
        """TransactWriteItems entry: the signal id is deterministic, so a retry cannot add a second one."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._item(signal),
                "ConditionExpression": "attribute_not_exists(signalId)",
            }
        }

    def put(self, signal: Signal) -> bool:
        """Write outside a transaction; False if the signal already exists."""
        return self._put_if_absent(self.signal_put_item(signal)["Put"], "put signal")

    def get(self, tenant_id: str, signal_id: str) -> Signal | None:
        with dynamo_errors("get signal"):
            response = self._client.get_item(
                TableName=self._table, Key=key(tenantId=tenant_id, signalId=signal_id), ConsistentRead=True
            )
        item = response.get("Item")
        return model_from_item(Signal, item, STORAGE_ATTRIBUTES) if item else None

    def list_for_account(
        self, tenant_id: str, account_id: str, limit: int, start: dict[str, str] | None = None
    ) -> Page[Signal]:
        """An account's signals, newest first; the index partition is the tenant's account."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        partition = keys.signal_tenant_account(tenant_id, account_id)
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": ACCOUNT_TIME_INDEX,
            "KeyConditionExpression": "tenantAccountId = :partition",
            "ExpressionAttributeValues": values(partition=partition),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        request.update(
            start_key(
                start,
                {INDEX_ATTRIBUTE: partition},
                frozenset({"tenantId", "signalId", INDEX_ATTRIBUTE, "createdAt"}),
            )
        )
        with dynamo_errors("list signals"):
            response = self._client.query(**request)
        items = [model_from_item(Signal, item, STORAGE_ATTRIBUTES) for item in response.get("Items", [])]
        return Page(items, string_key(response.get("LastEvaluatedKey")))
