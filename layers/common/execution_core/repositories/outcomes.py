"""ExecutionOutcomes table: one write-once outcome per intent."""

from typing import Any

from execution_core.models.execution import ActionOutcome
from execution_core.repositories import keys
from execution_core.repositories.base import TableRepository
from execution_core.repositories.dynamo import (
    TransactItem,
    dynamo_errors,
    key,
    model_from_item,
    to_item,
)

STORAGE_ATTRIBUTES = ("pk", "sk")


class ExecutionOutcomeRepository(TableRepository):
    @staticmethod
    def key(tenant_id: str, account_id: str, action_intent_id: str) -> dict[str, Any]:
        return key(pk=keys.account_pk(tenant_id, account_id), sk=keys.outcome_sk(action_intent_id))

    def _item(self, outcome: ActionOutcome) -> dict[str, Any]:
        return to_item(
            outcome,
            pk=keys.account_pk(outcome.tenant_id, outcome.account_id),
            sk=keys.outcome_sk(outcome.action_intent_id),
        )

    def outcome_put_item(self, outcome: ActionOutcome) -> TransactItem:
        """TransactWriteItems entry: the outcome, refused if one is already recorded."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._item(outcome),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    @staticmethod
    def parse_item(item: dict[str, Any]) -> ActionOutcome:
        """An outcome from a stored item, e.g. the NewImage of its stream record (the outbox)."""
        return model_from_item(ActionOutcome, item, STORAGE_ATTRIBUTES)

    def put(self, outcome: ActionOutcome) -> bool:
        """Record the outcome outside a transaction; False if one already exists."""
        return self._put_if_absent(self.outcome_put_item(outcome)["Put"], "put execution outcome")

    def get(
        self, tenant_id: str, account_id: str, action_intent_id: str, consistent: bool = True
    ) -> ActionOutcome | None:
        with dynamo_errors("get execution outcome"):
            response = self._client.get_item(
                TableName=self._table,
                Key=self.key(tenant_id, account_id, action_intent_id),
                ConsistentRead=consistent,
            )
        item = response.get("Item")
        return model_from_item(ActionOutcome, item, STORAGE_ATTRIBUTES) if item else None
