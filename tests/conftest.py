"""Shared fixtures: one embedded emulator per test session, with the project template deployed into it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported where used: the unit tier's start-up must not pay for moto
    from local_runtime.emulator import LocalEmulator, LocalStack

# The real ASL runs unchanged; only the waits between its retries are shortened (seconds → tens of ms).
RETRY_WAIT_SCALE = 0.02


@pytest.fixture(scope="session")
def local_emulator() -> Iterator[LocalEmulator]:
    from local_runtime.emulator import LocalEmulator

    with LocalEmulator(retry_wait_scale=RETRY_WAIT_SCALE) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def runtime(local_emulator: LocalEmulator) -> LocalStack:
    """The project's template.yaml deployed into the session emulator."""
    from local_runtime.project import deploy_project

    return deploy_project(local_emulator)


@pytest.fixture(scope="session")
def emulator(runtime: LocalStack) -> LocalStack:
    """Alias used by repository tests: `.client(service)` and `.physical_name(logical_id)`."""
    return runtime


@pytest.fixture(autouse=True)
def runtime_settled_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that used the runtime ends only when its stream records and events are delivered.

    Otherwise the outbox publisher (or the finalizer) of one test runs during the next one, and its log
    and metric lines land in that test's captured output.
    """
    yield
    if "runtime" not in request.fixturenames:
        return
    from local_runtime.eventbridge import wait_for_deliveries

    stack: LocalStack = request.getfixturevalue("runtime")
    for _ in range(2):  # an event can write an outcome, whose stream record publishes events
        wait_for_deliveries()
        stack.wait_for_streams()
