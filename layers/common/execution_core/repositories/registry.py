"""ActionTypeRegistry table: versioned tool mappings; a published version never changes."""

from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from execution_core.errors import RegistryVersionConflictError, RegistryVersionNotFoundError
from execution_core.models.registry import ActionTypeRegistryEntry
from execution_core.repositories import keys
from execution_core.repositories.base import TableRepository
from execution_core.repositories.dynamo import (
    Item,
    dynamo_errors,
    is_condition_failure,
    key,
    model_from_item,
    old_item,
    pages,
    to_item,
    values,
)

STORAGE_ATTRIBUTES = ("pk", "sk")


class PublishResult(StrEnum):
    CREATED = "CREATED"
    ALREADY_PUBLISHED = "ALREADY_PUBLISHED"  # identical content: publishing is idempotent


class ActionTypeRegistryRepository(TableRepository):
    @staticmethod
    def _key(action_type: str, version: int) -> Item:
        return key(pk=keys.registry_pk(action_type), sk=keys.registry_sk(version))

    def publish(self, entry: ActionTypeRegistryEntry) -> PublishResult:
        """Publish a version once. Re-publishing the same content is a no-op; other content is refused."""
        item = to_item(
            entry, pk=keys.registry_pk(entry.action_type), sk=keys.registry_sk(entry.registry_version)
        )
        with dynamo_errors("publish registry version"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return PublishResult.CREATED
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                stored_item = old_item(exc)
        stored = (
            model_from_item(ActionTypeRegistryEntry, stored_item, STORAGE_ATTRIBUTES)
            if stored_item
            else self.get(entry.action_type, entry.registry_version)
        )
        if stored is not None and stored.same_content(entry):
            return PublishResult.ALREADY_PUBLISHED
        raise RegistryVersionConflictError(
            f"{entry.action_type} version {entry.registry_version} is already published with other content"
        )

    def get(self, action_type: str, version: int) -> ActionTypeRegistryEntry | None:
        with dynamo_errors("get registry version"):
            response = self._client.get_item(
                TableName=self._table, Key=self._key(action_type, version), ConsistentRead=True
            )
        item = response.get("Item")
        return model_from_item(ActionTypeRegistryEntry, item, STORAGE_ATTRIBUTES) if item else None

    def require(self, action_type: str, version: int) -> ActionTypeRegistryEntry:
        """The version an intent pinned; its absence is a validation failure, not a reason to pick another."""
        entry = self.get(action_type, version)
        if entry is None:
            raise RegistryVersionNotFoundError(f"{action_type} has no registry version {version}")
        return entry

    def latest(self, action_type: str) -> ActionTypeRegistryEntry | None:
        with dynamo_errors("get latest registry version"):
            response = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues=values(
                    pk=keys.registry_pk(action_type), prefix=keys.REGISTRY_VERSION_PREFIX
                ),
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            )
        items = response.get("Items", [])
        return model_from_item(ActionTypeRegistryEntry, items[0], STORAGE_ATTRIBUTES) if items else None

    def list_action_types(self) -> list[str]:
        """Every action type with a published version (for an operator's "unknown action type" answer).

        A Scan of a table of a few dozen small items, made only by the operator CLI."""
        request: dict[str, Any] = {"TableName": self._table, "ProjectionExpression": "action_type"}
        pages_of_items = pages(self._client, "scan", request, "list action types")
        return sorted(
            {str(i["action_type"]["S"]) for page in pages_of_items for i in page if "action_type" in i}
        )
