"""SnapStart priming: what a handler's snapshot should already hold, and what a restore must renew.

Every handler calls ``prepare_snapshot()`` last at import. ``snapshot_restore_py`` exists only in Lambda's
managed Python runtime (the local runtime and tests lack it): there, the before-snapshot hook builds every
deferred pydantic model (ADR 0014: models are built on first use off SnapStart), runs the handler's own
priming, then closes the connection pools of every client and HTTP pool, so no connection opened during
priming is restored into many environments at once; pools reopen on first use. The after-restore hook
reseeds ``random`` (botocore's retry jitter draws from it: restored copies must not back off in step).
uuid4 and ``secrets`` read os.urandom when called, so nothing else captured at init needs to be unique.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import pydantic

from execution_core.aws import created_clients

_log = logging.getLogger(__name__)


class _Pool(Protocol):
    def clear(self) -> None: ...


def prepare_snapshot(*, prime: Callable[[], object] | None = None, http_pools: Iterable[_Pool] = ()) -> bool:
    """Register the hooks when SnapStart's runtime is there; False (and nothing done) elsewhere."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot, prime, tuple(http_pools))
    register_after_restore(after_restore)
    return True


def before_snapshot(prime: Callable[[], object] | None, http_pools: tuple[_Pool, ...]) -> None:
    built = build_deferred_models()
    if prime is not None:
        prime()
    for client in created_clients():
        client.close()  # botocore: closes its pool manager; the next call opens a fresh connection
    for pool in http_pools:
        pool.clear()
    _log.info("snapshot primed", extra={"models_built": built})


def after_restore() -> None:
    random.seed()  # from os.urandom: each restored environment gets its own sequence


def build_deferred_models() -> int:
    """Build every loaded model whose validator was deferred; the number built."""
    built = 0
    for model in _subclasses(pydantic.BaseModel):
        generic = getattr(model, "__pydantic_generic_metadata__", {}).get("parameters")
        if model.__pydantic_complete__ or generic:
            continue
        if model.model_rebuild(raise_errors=False):  # False: e.g. an unresolved forward reference, left
            built += 1  # to its first use
    return built


def _subclasses(root: type[Any]) -> list[type[Any]]:
    seen: dict[type[Any], None] = {}
    pending = list(root.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls not in seen:
            seen[cls] = None
            pending.extend(cls.__subclasses__())
    return list(seen)
