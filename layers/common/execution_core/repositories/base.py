"""What every repository shares: one table, one injected low-level client, and a page type."""

from dataclasses import dataclass
from typing import Any

from execution_core.errors import InvalidInputError
from execution_core.repositories.dynamo import Item, key


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
