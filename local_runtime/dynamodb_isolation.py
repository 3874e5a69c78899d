"""Makes the emulator's DynamoDB transactions isolated and cheap, as DynamoDB's are.

moto's TransactWriteItems snapshots whole tables (a deep copy of every table it touches), applies the
items one by one and, on a failed condition, restores the snapshot. That has two problems here:

* isolation: two concurrent writers corrupt each other (the restore of a cancelled transaction erases a
  write that committed meanwhile; the snapshot itself can fail with "dictionary changed size during
  iteration"). Serializing every DynamoDB write of the emulator behind one lock restores DynamoDB's
  guarantee. Reads take the same lock. Item reads (GetItem, Query, Scan, and BatchGetItem and
  TransactGetItems key by key): a cancelled transaction's items are in the table until the undo log puts
  them back, and DynamoDB never shows an uncommitted write (reads are read-committed at least); a Query
  or Scan also iterates the table a write is changing. Stream reads: a transaction's records are in its
  table's stream while it is applied, and a cancelled one's are truncated away, so a poller reading in
  between would publish what was never written and then skip the next real record (it reuses the
  sequence number). One process and the GIL make the lock cheap: writes and reads each take well under a
  millisecond in moto.
* cost: the deep copy grows with the table, so a transaction against a table of a few thousand items
  takes 150 ms or more and a long test session slows to a crawl. Since writes are serialized, the
  runtime instead keeps an undo log of just the items the transaction names, lets moto apply it without
  copying any table, and on cancellation puts those items (and the table's stream) back as they were.

Both wrap private moto methods and state, so moto is pinned; the patches are in local_runtime/moto_hooks.py
(``set_dynamodb_copy``, ``wrap_dynamodb_method``) and tests/local_runtime/test_moto_hooks.py checks they are
in place and still behave. The undo log itself reads moto's Table state (``items``, ``stream_shard``).
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamShard, Table

from local_runtime import moto_hooks

_lock = threading.RLock()
_installed = False


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(*args, **kwargs)

    wrapper.__serialized_by_local_runtime__ = True  # type: ignore[attr-defined]
    return wrapper


class _TablesNotCopied:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: a Table is "copied" as itself
    (the undo log below replaces the whole-table snapshot); everything else is deep-copied as before."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


@dataclass(frozen=True)
class _Before:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None


def _touched(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Before] | None:
    """The items a transaction names, as they are now; None when it names something unparseable (moto
    then rejects it before writing anything)."""
    before: list[_Before] = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName", ""))
        if table is None:
            continue
        key = op.get("Item") if op_type == "Put" else op.get("Key")
        try:
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, TypeError):
            return None
        current = table.get_item(hash_key, range_key)
        before.append(_Before(table, hash_key, range_key, copy.deepcopy(current)))
    return before


def _undo(before: list[_Before], streams: list[tuple[StreamShard, int]]) -> None:
    for entry in reversed(before):
        moto_hooks.restore_table_item(entry.table, entry.hash_key, entry.range_key, entry.item)
    for shard, length in streams:
        moto_hooks.truncate_stream(shard, length)  # a cancelled transaction leaves no stream record


def _with_undo_log(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Any:
        before = _touched(self, transact_items)
        if before is None:
            return method(self, transact_items)
        streams = {id(b.table): b.table.stream_shard for b in before if b.table.stream_shard is not None}
        marks = [(shard, moto_hooks.stream_length(shard)) for shard in streams.values() if shard is not None]
        try:
            return method(self, transact_items)
        except Exception:
            _undo(before, marks)
            raise

    transact_write_items.__undo_logged_by_local_runtime__ = True  # type: ignore[attr-defined]
    return transact_write_items


def install() -> None:
    global _installed  # noqa: PLW0603 - one hook per process
    if _installed:
        return
    moto_hooks.set_dynamodb_copy(_TablesNotCopied())
    moto_hooks.wrap_dynamodb_method("transact_write_items", _with_undo_log)
    for name in moto_hooks.DYNAMODB_SERIALIZED:
        moto_hooks.wrap_dynamodb_method(name, _serialized)
    moto_hooks.wrap_stream_read(_serialized)
    _installed = True


def installed() -> bool:
    serialized = all(
        getattr(moto_hooks.dynamodb_method(name), "__serialized_by_local_runtime__", False)
        for name in moto_hooks.DYNAMODB_SERIALIZED
    )
    inner = getattr(moto_hooks.dynamodb_method("transact_write_items"), "__wrapped__", None)
    undo_logged = getattr(inner, "__undo_logged_by_local_runtime__", False)
    streams_serialized = getattr(moto_hooks.stream_read(), "__serialized_by_local_runtime__", False)
    return (
        serialized
        and streams_serialized
        and undo_logged
        and isinstance(moto_hooks.dynamodb_copy(), _TablesNotCopied)
    )
