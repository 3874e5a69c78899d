"""statemachine/execution.asl.json: the structure the design requires, checked without running it."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
from cfnlint.api import lint

from execution_core.errors import TRANSIENT_PLATFORM_ERRORS
from execution_core.services import (  # noqa: F401 - imported so every error class of the taxonomy exists
    authorization,
    prepare,
    recording,
    status,
)
from execution_core.services.failures import classify_error_type, taxonomy
from local_runtime.template import PROJECT_ROOT, load_raw_template

ASL_PATH = PROJECT_ROOT / "statemachine" / "execution.asl.json"
TEMPLATE = load_raw_template()["Resources"]
SUCCESS_PATH = ["PrepareExecution", "PerformAction", "RecordOutcome"]
# Platform error names that no retry can fix (a broken deployment or a bug): never retried.
PERMANENT_PLATFORM_ERRORS = (
    "Runtime.ImportModuleError",
    "Runtime.HandlerNotFound",
    "Runtime.MarshalError",
    "Lambda.ResourceNotFoundException",
    "Lambda.InvalidParameterValueException",
    "States.Runtime",
)


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return dict(json.loads(ASL_PATH.read_text(encoding="utf-8")))


def _targets(state: dict[str, Any]) -> set[str]:
    targets = {state["Next"]} if "Next" in state else set()
    targets |= {c["Next"] for c in state.get("Catch", [])}
    targets |= {c["Next"] for c in state.get("Choices", [])}
    if "Default" in state:
        targets.add(state["Default"])
    return targets


def _tasks(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in asl["States"].items() if state["Type"] == "Task"}


def test_every_transition_target_exists(asl: dict[str, Any]) -> None:
    states = asl["States"]
    assert asl["StartAt"] in states
    for name, state in states.items():
        assert _targets(state) <= states.keys(), name


def test_every_state_is_reachable(asl: dict[str, Any]) -> None:
    states = asl["States"]
    seen, frontier = set(), [asl["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in seen:
            seen.add(name)
            frontier.extend(_targets(states[name]))
    assert seen == set(states)


def test_the_success_path_is_three_billed_states(asl: dict[str, Any]) -> None:
    """Prepare -> Act -> Record with nothing in between: every Choice, Pass or Succeed would be billed."""
    states = asl["States"]
    path, name = [], asl["StartAt"]
    while True:
        path.append(name)
        if states[name].get("End"):
            break
        name = states[name]["Next"]
    assert path == SUCCESS_PATH
    assert all(states[n]["Type"] == "Task" for n in path)


def test_a_duplicate_start_ends_in_two_transitions(asl: dict[str, Any]) -> None:
    duplicate = asl["States"]["PrepareExecution"]["Catch"][0]
    assert duplicate["ErrorEquals"] == ["DuplicateStartError"]
    assert asl["States"][duplicate["Next"]]["Type"] == "Succeed"


def test_every_task_writes_its_own_result_and_catches_into_the_failure_recorder(asl: dict[str, Any]) -> None:
    for name, state in _tasks(asl).items():
        assert state.get("ResultPath", "$").startswith("$."), f"{name} must not replace the whole state"
        catch_all = state["Catch"][-1]
        assert catch_all["ErrorEquals"] == ["States.ALL"], name
        if name == "RecordFailure":
            assert catch_all["Next"] == "FailureNotRecorded"
        else:
            assert (catch_all["Next"], catch_all["ResultPath"]) == ("RecordFailure", "$.error"), name


def test_perform_action_invokes_the_adapter_prepare_chose(asl: dict[str, Any]) -> None:
    parameters = asl["States"]["PerformAction"]["Parameters"]
    assert parameters["FunctionName.$"] == "$.prepared.result.adapter_function"
    assert parameters["Payload.$"] == "$.prepared.result"


@cache
def _error_names() -> dict[str, bool]:
    """Every error name a step can raise, derived from the taxonomy, with whether it is transient."""
    names = {cls.__name__: cls.retryable for cls in taxonomy()}
    names |= dict.fromkeys(TRANSIENT_PLATFORM_ERRORS, True)
    names |= dict.fromkeys(PERMANENT_PLATFORM_ERRORS, False)
    return names


def test_the_taxonomy_and_the_platform_table_agree() -> None:
    for name, retryable in _error_names().items():
        assert classify_error_type(name).retryable is retryable, name
    assert len(_error_names()) > 30


@pytest.mark.parametrize("task", ["PrepareExecution", "PerformAction", "RecordOutcome", "RecordFailure"])
def test_retries_cover_every_transient_error_and_no_permanent_one(asl: dict[str, Any], task: str) -> None:
    """Step Functions matches error names exactly (never Python subclasses): each retryable class, every
    Lambda service error, crashes and timeouts are listed by name on every (idempotent) step."""
    retried = [name for retrier in asl["States"][task]["Retry"] for name in retrier["ErrorEquals"]]
    assert len(retried) == len(set(retried)), "an error name belongs to one retrier"
    for name, retryable in _error_names().items():
        assert (name in retried) is retryable, f"{task}: {name} retryable={retryable}"
    assert "States.ALL" not in retried
    assert "States.TaskFailed" not in retried


def test_retries_are_bounded_with_capped_jittered_backoff(asl: dict[str, Any]) -> None:
    for name, state in _tasks(asl).items():
        for retrier in state["Retry"]:
            assert 1 <= retrier["MaxAttempts"] <= 4, name
            assert retrier["BackoffRate"] >= 1.5, name
            assert retrier["MaxDelaySeconds"] <= 30, name
            assert retrier["JitterStrategy"] == "FULL", name


def _function_ids(state: dict[str, Any]) -> list[str]:
    """The template functions a Task may invoke (PerformAction: every adapter the role may invoke)."""
    substitutions = TEMPLATE["ExecutionStateMachine"]["Properties"]["DefinitionSubstitutions"]
    name = state["Parameters"].get("FunctionName")
    if name is None:
        return sorted(ADAPTERS)
    placeholder = re.fullmatch(r"\$\{(\w+)\}", name)
    assert placeholder is not None
    function, _, attribute = substitutions[placeholder.group(1)]["Ref"].partition(".")
    assert attribute == "Alias"  # the function's live alias (ADR 0013)
    return [function]


ADAPTERS = {"InternalAdapterFunction", "CrmAdapterFunction"}


def test_task_timeouts_exceed_the_functions_they_wrap(asl: dict[str, Any]) -> None:
    """Lambda's own timeout fires first (Sandbox.Timedout, retried); the task timeout is the backstop."""
    for name, state in _tasks(asl).items():
        for function_id in _function_ids(state):
            assert state["TimeoutSeconds"] > TEMPLATE[function_id]["Properties"]["Timeout"], (
                name,
                function_id,
            )


def _task_worst_case(state: dict[str, Any]) -> float:
    """Every retrier exhausted in turn, each attempt running to the task timeout, every wait at its cap."""
    attempts = 1 + sum(r["MaxAttempts"] for r in state["Retry"])
    waits = sum(
        min(r["IntervalSeconds"] * r["BackoffRate"] ** i, r["MaxDelaySeconds"])
        for r in state["Retry"]
        for i in range(r["MaxAttempts"])
    )
    return float(attempts * state["TimeoutSeconds"] + waits)


def _worst_case_seconds(asl: dict[str, Any]) -> float:
    states = asl["States"]

    @cache
    def longest(name: str) -> float:
        state = states[name]
        own = _task_worst_case(state) if state["Type"] == "Task" else 0.0
        return own + max((longest(n) for n in _targets(state)), default=0.0)

    return longest(asl["StartAt"])


def test_worst_case_execution_fits_the_machine_timeout_and_the_lease(asl: dict[str, Any]) -> None:
    """The machine's TimeoutSeconds never cuts a legitimate retry sequence, and no lease ends while its
    holder (or a function it started, which runs on after the execution ends) can still act."""
    worst = _worst_case_seconds(asl)
    timeout = asl["TimeoutSeconds"]
    assert worst <= timeout, (worst, timeout)
    started = {f for state in _tasks(asl).values() for f in _function_ids(state)}
    longest_function = max(TEMPLATE[f]["Properties"]["Timeout"] for f in started)
    lease = load_raw_template()["Parameters"]["LeaseSeconds"]
    assert timeout + longest_function < lease["MinValue"] <= lease["Default"]


def test_the_worst_case_calculation_can_fail(asl: dict[str, Any]) -> None:
    """The check above is not vacuous: one more attempt of the adapter's retries pushes it over."""
    broken = json.loads(json.dumps(asl))
    for retrier in broken["States"]["PerformAction"]["Retry"]:
        retrier["MaxAttempts"] = 30
    assert _worst_case_seconds(broken) > broken["TimeoutSeconds"]


def test_terminal_states_match_the_business_result(asl: dict[str, Any]) -> None:
    states = asl["States"]
    assert {n for n, s in states.items() if s["Type"] == "Succeed"} == {
        "ExecutionSucceeded",
        "DuplicateIgnored",
    }
    assert {n for n, s in states.items() if s["Type"] == "Fail"} == {
        "ExecutionFailed",
        "ExecutionCancelled",
        "ExecutionExpired",
        "ApprovalNotExecuted",
        "OutcomeInDoubt",
        "FailureNotRecorded",
    }
    choices = {
        (c["Variable"].rsplit(".", 1)[-1], c["StringEquals"]): c["Next"]
        for c in states["RecordedOutcome"]["Choices"]
    }
    assert choices == {
        ("disposition", "DUPLICATE"): "DuplicateIgnored",
        ("disposition", "NOT_EXECUTED"): "ApprovalNotExecuted",
        ("disposition", "IN_DOUBT"): "OutcomeInDoubt",
        ("status", "SUCCEEDED"): "ExecutionSucceeded",
        ("status", "CANCELLED"): "ExecutionCancelled",
        ("status", "EXPIRED"): "ExecutionExpired",
    }
    assert states["RecordedOutcome"]["Default"] == "ExecutionFailed"


def _lint(definition: dict[str, Any]) -> list[str]:
    text = re.sub(
        r"\$\{\w+\}", "arn:aws:lambda:us-east-1:123456789012:function:placeholder", json.dumps(definition)
    )
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "Definition": json.loads(text),
                    "RoleArn": "arn:aws:iam::123456789012:role/placeholder",
                },
            }
        },
    }
    return [str(m) for m in lint(json.dumps(template))]


def test_cfn_lint_accepts_the_definition_in_a_plain_state_machine(asl: dict[str, Any]) -> None:
    """cfn-lint skips ASL inside SAM templates; wrapped in plain CloudFormation, it validates it."""
    assert _lint(asl) == []


def test_cfn_lint_catches_a_broken_definition(asl: dict[str, Any]) -> None:
    """The check above can fail: a schema violation in the ASL is reported."""
    broken = json.loads(json.dumps(asl))
    broken["States"]["PerformAction"]["Retry"][0]["MaxAttempts"] = "three"
    assert _lint(broken) != []
