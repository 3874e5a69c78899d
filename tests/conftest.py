"""Shared fixtures: one embedded emulator per test session, with the project template deployed into it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_runtime.emulator import LocalEmulator, LocalStack
from local_runtime.project import deploy_project

# The real ASL runs unchanged; only the waits between its retries are shortened (seconds → tens of ms).
RETRY_WAIT_SCALE = 0.02


@pytest.fixture(scope="session")
def local_emulator() -> Iterator[LocalEmulator]:
    with LocalEmulator(retry_wait_scale=RETRY_WAIT_SCALE) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def runtime(local_emulator: LocalEmulator) -> LocalStack:
    """The project's template.yaml deployed into the session emulator."""
    return deploy_project(local_emulator)


@pytest.fixture(scope="session")
def emulator(runtime: LocalStack) -> LocalStack:
    """Alias used by repository tests: `.client(service)` and `.physical_name(logical_id)`."""
    return runtime
