"""statemachine/execution.asl.json: structure the design requires, checked without running it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.api import lint

from local_runtime.template import PROJECT_ROOT, load_raw_template

ASL_PATH = PROJECT_ROOT / "statemachine" / "execution.asl.json"
TRANSIENT = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException"}


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


def test_every_task_has_a_result_path_and_a_catch_to_the_normalizer(asl: dict[str, Any]) -> None:
    for name, state in asl["States"].items():
        if state["Type"] != "Task":
            continue
        assert state.get("ResultPath", "$").startswith("$."), f"{name} must not replace the whole state"
        catch_targets = {c["Next"] for c in state["Catch"]}
        if name == "RecordFailure":
            assert catch_targets == {"FailureNotRecorded"}
        else:
            assert catch_targets == {"NormalizeError"}, name
            assert state["Catch"][0]["ResultPath"] == "$.error"


def test_retries_are_bounded_transient_and_fit_inside_the_timeouts(asl: dict[str, Any]) -> None:
    template = load_raw_template()["Resources"]
    substitutions = template["ExecutionStateMachine"]["Properties"]["DefinitionSubstitutions"]
    for name, state in asl["States"].items():
        if state["Type"] != "Task":
            continue
        for retry in state.get("Retry", []):
            assert "States.ALL" not in retry["ErrorEquals"], f"{name} retries everything"
            assert "States.TaskFailed" not in retry["ErrorEquals"]
            assert 1 <= retry["MaxAttempts"] <= 4
            assert retry.get("BackoffRate", 1) >= 1.5
        assert {e for r in state.get("Retry", []) for e in r["ErrorEquals"]} >= TRANSIENT, name
        # The task timeout must exceed the Lambda timeout it wraps: Lambda's own timeout fires first.
        placeholder = re.fullmatch(r"\$\{(\w+)\}", state["Parameters"]["FunctionName"])
        assert placeholder is not None
        function_id = substitutions[placeholder.group(1)]["Fn::GetAtt"][0]
        function_timeout = template[function_id]["Properties"]["Timeout"]
        assert state["TimeoutSeconds"] > function_timeout, name


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
        "FailureNotRecorded",
    }
    assert states["RecordOutcome"]["Next"] == "ExecutionSucceeded"
    assert states["IsDuplicateStart"]["Choices"][0]["Next"] == "DuplicateIgnored"


def test_cfn_lint_accepts_the_definition_in_a_plain_state_machine(asl: dict[str, Any]) -> None:
    """cfn-lint skips ASL inside SAM templates; wrapped in plain CloudFormation, it validates it."""
    definition = json.loads(
        re.sub(
            r"\$\{\w+\}", "arn:aws:lambda:us-east-1:123456789012:function:placeholder", ASL_PATH.read_text()
        )
    )
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "Definition": definition,
                    "RoleArn": "arn:aws:iam::123456789012:role/placeholder",
                },
            }
        },
    }
    assert [str(m) for m in lint(json.dumps(template))] == []


def test_cfn_lint_catches_a_broken_definition(asl: dict[str, Any]) -> None:
    """The check above can fail: a schema violation in the ASL is reported (dangling transitions are
    not cfn-lint's business; test_every_transition_target_exists covers those)."""
    broken = json.loads(json.dumps(asl))
    broken["States"]["InvokeTool"]["Retry"][0]["MaxAttempts"] = "three"
    definition = json.loads(
        re.sub(r"\$\{\w+\}", "arn:aws:lambda:us-east-1:123456789012:function:placeholder", json.dumps(broken))
    )
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"Definition": definition, "RoleArn": "arn:aws:iam::123456789012:role/x"},
            }
        }
    }
    assert lint(json.dumps(template)) != []
