"""The unit tier's guard fires: a socket, an AWS SDK request or the emulator is refused (and recorded, so a
test that swallows the refusal still fails), while a botocore Stubber, which answers in memory, is allowed."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import cast

import boto3
import pytest
from botocore.stub import Stubber

from local_runtime.emulator import LocalEmulator
from tests.unit.conftest import UnitGuard, UnitTierViolation, pytest_runtest_setup


def _client() -> object:
    return boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_a_tcp_connection_is_refused(unit_guard: UnitGuard) -> None:
    with pytest.raises(UnitTierViolation, match=r"socket\.connect"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    assert unit_guard.violations == ["socket.connect"]
    unit_guard.violations.clear()  # this test wanted the refusal; any other test fails at teardown


def test_a_udp_datagram_and_a_listening_socket_are_refused(unit_guard: UnitGuard) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(UnitTierViolation):
            sock.sendto(b"x", ("127.0.0.1", 9))
        with pytest.raises(UnitTierViolation):
            sock.bind(("127.0.0.1", 0))
    assert unit_guard.violations == ["socket.sendto", "socket.bind"]
    unit_guard.violations.clear()


def test_a_child_process_is_refused(unit_guard: UnitGuard) -> None:
    with pytest.raises(UnitTierViolation, match="child process"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert unit_guard.violations == ["a child process"]
    unit_guard.violations.clear()


def test_an_aws_sdk_request_is_refused_even_when_the_code_catches_exceptions(unit_guard: UnitGuard) -> None:
    client = _client()
    try:
        client.list_tables()  # type: ignore[attr-defined]
    except Exception:
        pytest.fail("the refusal is a BaseException: `except Exception` cannot swallow it")
    except UnitTierViolation:
        pass
    assert unit_guard.violations == ["an AWS SDK request"]
    unit_guard.violations.clear()


def test_a_stubbed_client_answers_in_memory(unit_guard: UnitGuard) -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("list_tables", {"TableNames": ["table-1"]})
        assert client.list_tables()["TableNames"] == ["table-1"]  # type: ignore[attr-defined]
    assert unit_guard.violations == []


def test_the_emulator_is_refused(unit_guard: UnitGuard) -> None:
    with pytest.raises(UnitTierViolation, match="LocalEmulator"):
        LocalEmulator()
    with pytest.raises(UnitTierViolation, match="LocalEmulator"):
        LocalEmulator.start(cast(LocalEmulator, object()))
    assert unit_guard.violations == ["LocalEmulator()", "LocalEmulator.start"]
    unit_guard.violations.clear()


@dataclass
class _Item:
    """What the setup hook reads of a collected test."""

    nodeid: str
    fixturenames: list[str]
    marker: str | None = None

    def get_closest_marker(self, name: str) -> object | None:
        return name if name == self.marker else None


@pytest.mark.parametrize(
    "item",
    [
        _Item("t::uses_runtime", ["runtime"]),
        _Item("t::uses_api", ["unit_guard", "api"]),
        _Item("t::marked", [], marker="emulator"),
    ],
    ids=lambda item: item.nodeid,
)
def test_a_test_that_asks_for_the_emulator_fails_before_its_fixtures_start_it(item: _Item) -> None:
    with pytest.raises(pytest.fail.Exception, match="needs the emulator"):
        pytest_runtest_setup(item)  # type: ignore[arg-type]


def test_a_pure_test_passes_the_setup_hook() -> None:
    pytest_runtest_setup(_Item("t::pure", ["unit_guard", "monkeypatch"]))  # type: ignore[arg-type]


def test_another_threads_socket_is_not_the_tests(unit_guard: UnitGuard) -> None:
    """In a full run the emulator earlier tiers started keeps polling in its own threads: not refused."""
    results: list[object] = []

    def background() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            results.append(sock.sendto(b"x", ("127.0.0.1", 9)))  # UDP: nothing needs to listen

    thread = threading.Thread(target=background)
    thread.start()
    thread.join(timeout=5)
    assert results == [1]
    assert unit_guard.violations == []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(UnitTierViolation):
        sock.sendto(b"x", ("127.0.0.1", 9))  # the same call from the test's own thread still is
    assert unit_guard.violations == ["socket.sendto"]
    unit_guard.violations.clear()
