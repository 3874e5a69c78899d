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
    violations: list[str] = field(default_factory=list)

    def refuse(self, what: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            self.violations.append(what)
            raise UnitTierViolation(f"tests/unit must stay pure: {what} (move the test to its tier)")

        return refused


@pytest.fixture(autouse=True)
def unit_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[UnitGuard]:
    guard = UnitGuard()
    for name in ("bind", "connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, guard.refuse(f"socket.{name}"))
    monkeypatch.setattr(BaseClient, "_make_request", guard.refuse("an AWS SDK request"))
    # A child process would escape every patch here (and a fresh interpreter is not seconds).
    monkeypatch.setattr(subprocess.Popen, "__init__", guard.refuse("a child process"))
    emulator = sys.modules.get("local_runtime.emulator")  # not imported here: moto would slow every start-up
    if emulator is not None:  # a test that imports it inside its body still meets the socket guard (bind)
        monkeypatch.setattr(emulator.LocalEmulator, "__init__", guard.refuse("LocalEmulator()"))
        monkeypatch.setattr(emulator.LocalEmulator, "start", guard.refuse("LocalEmulator.start"))
    yield guard
    if guard.violations:
        pytest.fail(f"tests/unit must stay pure, but this test tried: {', '.join(guard.violations)}")
