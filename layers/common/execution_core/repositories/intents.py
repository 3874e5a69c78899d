"""ActionIntents table: written upstream (and by the local tools); read by the starter and the API."""

from datetime import timedelta
from typing import Any

from execution_core.models.intent import ActionIntent
from execution_core.repositories import keys
from execution_core.repositories.base import TableRepository
from execution_core.repositories.dynamo import (
    dynamo_errors,
    key,
    model_from_item,
    to_item,
)

STORAGE_ATTRIBUTES = ("pk", "sk", "ttl")
DEFAULT_RETENTION_AFTER_EXPIRY = timedelta(days=180)


class ActionIntentRepository(TableRepository):
    def __init__(
        self, client: Any, table_name: str, retention_after_expiry: timedelta = DEFAULT_RETENTION_AFTER_EXPIRY
    ) -> None:
        super().__init__(client, table_name)
        # TTL well after expiry: an EXPIRED intent must stay visible to the status API for a while.
        self._retention_seconds = int(retention_after_expiry.total_seconds())

    @staticmethod
    def key(tenant_id: str, account_id: str, action_intent_id: str) -> dict[str, Any]:
        return key(pk=keys.account_pk(tenant_id, account_id), sk=keys.intent_sk(action_intent_id))

    def put(self, intent: ActionIntent) -> bool:
        """Store a new intent; False if one with this id already exists (it is never overwritten)."""
        item = to_item(
            intent,
            pk=keys.account_pk(intent.tenant_id, intent.account_id),
            sk=keys.intent_sk(intent.action_intent_id),
            ttl=intent.expires_at_epoch + self._retention_seconds,
        )
        return self._put_if_absent(
            {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"},
            "put action intent",
        )

    def get(
        self, tenant_id: str, account_id: str, action_intent_id: str, consistent: bool = True
    ) -> ActionIntent | None:
        with dynamo_errors("get action intent"):
            response = self._client.get_item(
                TableName=self._table,
                Key=self.key(tenant_id, account_id, action_intent_id),
                ConsistentRead=consistent,
            )
        item = response.get("Item")
        return model_from_item(ActionIntent, item, STORAGE_ATTRIBUTES) if item else None
