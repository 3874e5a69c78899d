"""What every repository shares: one table, one injected low-level client, and a page type."""

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from execution_core.errors import InvalidInputError
from execution_core.repositories.dynamo import Item, dynamo_errors, is_condition_failure, key


@dataclass(frozen=True)
class Page[T]:
    """One page of a query; ``next_key`` is the LastEvaluatedKey as plain strings (None on the last page)."""

    items: list[T]
    next_key: dict[str, str] | None


class TableRepository:
    """Base of the per-table repositories. The client is injected so the handler creates it once."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @property
    def table_name(self) -> str:
        return self._table

    def _put_if_absent(self, put: dict[str, Any], action: str) -> bool:
        """A conditional PutItem (the ``Put`` of a transaction entry); False when the item already exists."""
        with dynamo_errors(action):
            try:
                self._client.put_item(**put)
            except ClientError as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True


def start_key(
    start: dict[str, str] | None, expected: dict[str, str], key_names: frozenset[str]
) -> dict[str, Item] | dict[str, Any]:
    """Validate a caller-supplied ExclusiveStartKey: right attributes, and inside the queried partition.

    Pagination tokens are signed by the API, but a key that points elsewhere is still refused here.
    """
    if start is None:
        return {}
    if set(start) != key_names or any(start.get(name) != value for name, value in expected.items()):
        raise InvalidInputError("The pagination key does not belong to this query")
    return {"ExclusiveStartKey": key(**start)}
