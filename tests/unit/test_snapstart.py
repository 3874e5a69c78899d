"""SnapStart priming: hooks registered only where the runtime provides them, and what they do (ADR 0014)."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from execution_core import snapstart
from execution_core.models.common import FrozenModel


class _FakeRuntime(types.ModuleType):
    """Stands in for Lambda's snapshot_restore_py: records the registrations."""

    def __init__(self) -> None:
        super().__init__("snapshot_restore_py")
        self.before: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.after: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def register_before_snapshot(self, func: Callable[..., Any], *args: Any) -> None:
        self.before.append((func, args))

    def register_after_restore(self, func: Callable[..., Any], *args: Any) -> None:
        self.after.append((func, args))


class _Closable:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1

    def clear(self) -> None:
        self.closed += 1


@pytest.fixture
def fake_runtime(monkeypatch: pytest.MonkeyPatch) -> _FakeRuntime:
    runtime = _FakeRuntime()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    return runtime


def test_without_the_snapstart_runtime_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as outside Lambda
    assert snapstart.prepare_snapshot(prime=lambda: pytest.fail("primed outside SnapStart")) is False


def test_hooks_are_registered_once_each(fake_runtime: _FakeRuntime) -> None:
    assert snapstart.prepare_snapshot() is True
    assert [func for func, _ in fake_runtime.before] == [snapstart.before_snapshot]
    assert [func for func, _ in fake_runtime.after] == [snapstart.after_restore]


def test_before_snapshot_builds_deferred_models_primes_and_closes_every_pool(
    fake_runtime: _FakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    class DeferredProbe(FrozenModel):
        name: str

    assert DeferredProbe.__pydantic_complete__ is False  # FrozenModel defers building
    client, pool, primed = _Closable(), _Closable(), []
    monkeypatch.setattr(snapstart, "created_clients", lambda: [client])
    snapstart.prepare_snapshot(prime=lambda: primed.append(True), http_pools=[pool])
    func, args = fake_runtime.before[0]
    func(*args)
    assert DeferredProbe.__pydantic_complete__ is True
    assert type(DeferredProbe.__pydantic_validator__).__name__ == "SchemaValidator"
    assert primed == [True]
    assert (client.closed, pool.closed) == (1, 1)


def test_after_restore_reseeds_random(fake_runtime: _FakeRuntime) -> None:
    snapstart.prepare_snapshot()
    random.seed(1234)  # the state a snapshot would carry into every restored environment
    captured = random.getstate()
    func, args = fake_runtime.after[0]
    func(*args)
    assert random.getstate() != captured
