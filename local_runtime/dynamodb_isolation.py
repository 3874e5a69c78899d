"""Makes the emulator's DynamoDB transactions isolated, as DynamoDB's are.

moto's TransactWriteItems snapshots whole tables, applies the items one by one and, on a failed
condition, restores the snapshot. Two concurrent writers therefore corrupt each other: the restore
of a cancelled transaction erases a write that committed meanwhile, and the snapshot itself can fail
with "dictionary changed size during iteration". The concurrency tests (ten duplicate executions,
concurrent recorders) hit exactly that. Serializing every DynamoDB write of the emulator behind one
lock restores DynamoDB's guarantee; reads stay concurrent. This wraps private moto methods, so moto is
pinned and tests/integration/test_lambda_routing.py checks the hook is in place.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()
_installed = False


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(*args, **kwargs)

    wrapper.__serialized_by_local_runtime__ = True  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    global _installed  # noqa: PLW0603 - one hook per process
    if _installed:
        return
    for name in _WRITES:
        setattr(DynamoDBBackend, name, _serialized(getattr(DynamoDBBackend, name)))
    _installed = True


def installed() -> bool:
    return all(
        getattr(getattr(DynamoDBBackend, name), "__serialized_by_local_runtime__", False) for name in _WRITES
    )
