"""`make invoke FN=... EVENT=events/<file>.json` with every sample event succeeds or fails exactly as the
file's name says: `*_fails.json` is a function error; `*_<status>.json` is an API response with that
status; anything else succeeds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from execctl.operations import Operations
from local_runtime.sample_world import sample_events
from local_runtime.template import PROJECT_ROOT, load_project_template

# One fresh `exec-local invoke` process per sample event (about 25 of them): the module fixture runs them all,
# so its first test carries their time. Bounded, but well above the suite's 300 s for one test.
pytestmark = pytest.mark.timeout(900)

EVENTS = sorted((PROJECT_ROOT / "events").glob("*.json"))
_FUNCTION_BY_PREFIX = {
    "prepare_execution": "PrepareExecutionFunction",
    "internal_adapter": "InternalAdapterFunction",
    "crm_adapter": "CrmAdapterFunction",
    "execution_recorder": "ExecutionRecorderFunction",
    "execution_failure_recorder": "ExecutionFailureRecorderFunction",
    "status_api": "ExecutionStatusApiFunction",
    "reconciler": "ReconcilerFunction",
    "outcome_publisher": "OutcomePublisherFunction",
}


def _function_for(name: str) -> str:
    prefix = max((p for p in _FUNCTION_BY_PREFIX if name.startswith(p + "_")), key=len)
    return _FUNCTION_BY_PREFIX[prefix]


def test_every_event_file_names_a_known_function() -> None:
    assert len(EVENTS) >= 10
    for path in EVENTS:
        assert _function_for(path.stem), path.name


def test_every_function_in_the_template_has_a_sample_event() -> None:
    functions = set(load_project_template().resources_of_type("AWS::Lambda::Function"))
    with_events = {_function_for(path.stem) for path in EVENTS}
    assert functions, "the template has no functions"
    assert functions - with_events == set(), "functions without a sample event in events/"


def _invoke(event: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter and CLI
        [
            sys.executable,
            "-m",
            "local_runtime",
            "invoke",
            _function_for(event.stem),
            str(event),
            "--log-level",
            "ERROR",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def invocations() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every event through its own `exec-local invoke` process, a few at a time (each is a fresh runtime)."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip((p.name for p in EVENTS), pool.map(_invoke, EVENTS), strict=True))


@pytest.mark.parametrize("path", EVENTS, ids=[p.stem for p in EVENTS])
def test_invoke_matches_the_file_name(
    path: Path, invocations: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = invocations[path.name]
    function = _function_for(path.stem)
    output = result.stdout
    marker = output.index(f"--- {function} returned")
    payload = json.loads(output[output.index("\n", marker) + 1 :])
    status = re.search(r"_(\d{3})$", path.stem)
    if path.stem.endswith("_fails"):
        assert result.returncode == 1, output
        assert payload["errorType"] == "InvalidInputError"
    elif status is not None:
        assert result.returncode == 0, output + result.stderr
        assert payload["statusCode"] == int(status.group(1)), payload
    else:
        assert result.returncode == 0, output + result.stderr
        assert "errorType" not in payload
        if "disposition" in payload:
            assert payload["disposition"] == "RECORDED", payload
        if "batchItemFailures" in payload:
            assert payload["batchItemFailures"] == [], payload
        if path.stem == "crm_adapter_task_created":  # one task in the local CRM, its reference returned
            assert [(r["system"], r["object_type"]) for r in payload["external_object_refs"]] == [
                ("CRM", "Task")
            ], payload
            assert payload["replayed"] is False
        if path.stem == "crm_adapter_resolve_never_reserved":  # nothing reserved: the write never happened
            assert payload == {"state": "ABSENT"}


@pytest.mark.emulator
def test_the_step_events_are_what_the_sample_world_generates(ops: Operations) -> None:
    """The step payloads in events/ follow the contracts (regenerate them with sample_world.sample_events)."""
    for name, event in sample_events(ops, datetime.now(UTC)).items():
        stored = json.loads((PROJECT_ROOT / "events" / name).read_text(encoding="utf-8"))
        assert stored == event, name
