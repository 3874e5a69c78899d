"""InternalObjects table: the internal adapter's notes and tasks, one per idempotency-derived id."""

from typing import Any

from botocore.exceptions import ClientError

from execution_core.errors import InvalidInputError
from execution_core.models.adapters import InternalObject, InternalObjectKind
from execution_core.repositories import keys
from execution_core.repositories.base import Page, TableRepository, start_key
from execution_core.repositories.dynamo import (
    Item,
    TransactItem,
    dynamo_errors,
    is_condition_failure,
    key,
    model_from_item,
    old_item,
    string_key,
    to_item,
    values,
)

STORAGE_ATTRIBUTES = ("pk", "sk")
MAX_PAGE_SIZE = 100


class InternalObjectRepository(TableRepository):
    @staticmethod
    def key(tenant_id: str, account_id: str, kind: InternalObjectKind, object_id: str) -> Item:
        return key(pk=keys.account_pk(tenant_id, account_id), sk=keys.internal_object_sk(kind, object_id))

    def _item(self, obj: InternalObject) -> Item:
        return to_item(
            obj,
            pk=keys.account_pk(obj.tenant_id, obj.account_id),
            sk=keys.internal_object_sk(obj.kind, obj.object_id),
        )

    def create_item(self, obj: InternalObject) -> TransactItem:
        """TransactWriteItems entry: create the object once; a cancelled one returns the stored object."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._item(obj),
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def presence_check(
        self, tenant_id: str, account_id: str, kind: InternalObjectKind, object_id: str, *, present: bool
    ) -> TransactItem:
        """TransactWriteItems ConditionCheck: the object exists (``present``) or does not."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": self.key(tenant_id, account_id, kind, object_id),
                "ConditionExpression": "attribute_exists(pk)" if present else "attribute_not_exists(pk)",
            }
        }

    def parse_item(self, item: Item) -> InternalObject:
        return model_from_item(InternalObject, item, STORAGE_ATTRIBUTES)

    def put(self, obj: InternalObject) -> tuple[bool, InternalObject]:
        """Create the object once; returns (created, stored) so a retry gets the original back."""
        item = self._item(obj)
        with dynamo_errors("create internal object"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return True, obj
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                stored = old_item(exc)
        if stored is not None:
            return False, model_from_item(InternalObject, stored, STORAGE_ATTRIBUTES)
        existing = self.get(obj.tenant_id, obj.account_id, obj.kind, obj.object_id)
        return False, existing or obj

    def get(
        self, tenant_id: str, account_id: str, kind: InternalObjectKind, object_id: str
    ) -> InternalObject | None:
        with dynamo_errors("get internal object"):
            response = self._client.get_item(
                TableName=self._table,
                Key=self.key(tenant_id, account_id, kind, object_id),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return model_from_item(InternalObject, item, STORAGE_ATTRIBUTES) if item else None

    def list_for_account(
        self,
        tenant_id: str,
        account_id: str,
        kind: InternalObjectKind,
        limit: int,
        start: dict[str, str] | None = None,
    ) -> Page[InternalObject]:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        pk = keys.account_pk(tenant_id, account_id)
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": values(pk=pk, prefix=keys.internal_object_prefix(kind)),
            "Limit": limit,
        }
        request.update(start_key(start, {"pk": pk}, frozenset({"pk", "sk"})))
        with dynamo_errors("list internal objects"):
            response = self._client.query(**request)
        items = [
            model_from_item(InternalObject, item, STORAGE_ATTRIBUTES) for item in response.get("Items", [])
        ]
        return Page(items, string_key(response.get("LastEvaluatedKey")))
