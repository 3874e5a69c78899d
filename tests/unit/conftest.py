"""The unit tier's guard: a test here never starts the emulator, opens a socket, sends an AWS SDK request or
starts a child process (which would escape the guard).

Every such attempt raises `UnitTierViolation` (a BaseException, so code under test that catches `Exception`
cannot swallow it) and is recorded; a test with a recorded attempt fails at teardown even if the raise was
caught. A botocore `Stubber` answers before a request is made, so stubbed clients stay allowed: the guard
sits where a request would leave the process (`BaseClient._make_request`), not at `_make_api_call`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.client import BaseClient

# The session fixtures that start or use the emulator (tests/conftest.py, tests/support/status_api.py). They
# are set up before any function-scoped fixture, so they are refused before setup, by name.
EMULATOR_FIXTURES = frozenset({"local_emulator", "runtime", "emulator", "api", "records", "tenant"})


EMULATOR_FIXTURE_MODULES = frozenset({"tests.conftest", "tests.support.status_api"})


def emulator_fixtures(item: pytest.Item) -> list[str]:
    """The emulator fixtures a test would set up (a parameter that happens to share a name does not count)."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return sorted(
        name
        for name in EMULATOR_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if name not in definitions
        or getattr(definitions[name][-1].func, "__module__", None) in EMULATOR_FIXTURE_MODULES
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse a unit test that asks for the emulator before its fixtures are set up (it would start moto)."""
    asked = emulator_fixtures(item)
    if asked or item.get_closest_marker("emulator") is not None:
        pytest.fail(
            f"tests/unit must stay pure: {item.nodeid} needs the emulator ({asked or 'emulator mark'})"
        )


class UnitTierViolation(BaseException):
    """A unit test reached for the network, an AWS endpoint or the emulator."""


@dataclass
class UnitGuard:
    """Refuses on the thread that runs the test. Other threads pass through: in a full run the emulator that
    earlier tiers started keeps polling (streams, schedules) in its own threads while unit tests run, and
    those requests are not the test's."""

    violations: list[str] = field(default_factory=list)
    test_thread: int = field(default_factory=threading.get_ident)

    def refuse(self, what: str, original: Any = None) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            if original is not None and threading.get_ident() != self.test_thread:
                return original(*args, **kwargs)
            self.violations.append(what)
            raise UnitTierViolation(f"tests/unit must stay pure: {what} (move the test to its tier)")

        return refused


def _refuse(monkeypatch: pytest.MonkeyPatch, guard: UnitGuard, owner: Any, name: str, what: str) -> None:
    monkeypatch.setattr(owner, name, guard.refuse(what, getattr(owner, name)))


@pytest.fixture(autouse=True)
def unit_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[UnitGuard]:
    guard = UnitGuard()
    for name in ("bind", "connect", "connect_ex", "sendto"):
        _refuse(monkeypatch, guard, socket.socket, name, f"socket.{name}")
    _refuse(monkeypatch, guard, BaseClient, "_make_request", "an AWS SDK request")
    # A child process would escape every patch here (and a fresh interpreter is not seconds).
    _refuse(monkeypatch, guard, subprocess.Popen, "__init__", "a child process")
    emulator = sys.modules.get("local_runtime.emulator")  # not imported here: moto would slow every start-up
    if emulator is not None:  # a test that imports it inside its body still meets the socket guard (bind)
        _refuse(monkeypatch, guard, emulator.LocalEmulator, "__init__", "LocalEmulator()")
        _refuse(monkeypatch, guard, emulator.LocalEmulator, "start", "LocalEmulator.start")
    yield guard
    if guard.violations:
        pytest.fail(f"tests/unit must stay pure, but this test tried: {', '.join(guard.violations)}")
