"""The local runtime runs the project's real handler code when a function is invoked.

This hooks a private moto method (local_runtime/moto_hooks.py, used by local_runtime/lambdas.py). If a moto
upgrade breaks the hook, these tests (and the guards in tests/local_runtime/test_moto_hooks.py) fail loudly
instead of the runtime silently echoing payloads back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from local_runtime.emulator import LocalEmulator, LocalStack
from local_runtime.sdk_events import OBSERVER, FaultKind

pytestmark = pytest.mark.emulator

FIXTURE_TEMPLATE = Path(__file__).resolve().parent.parent / "fixtures" / "routing" / "template.yaml"


@pytest.fixture(scope="module")
def probe_stack(local_emulator: LocalEmulator) -> LocalStack:
    return local_emulator.deploy(template_path=FIXTURE_TEMPLATE, stack_name="routing-probe")


def _invoke(stack: LocalStack, logical_id: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    response = stack.client("lambda").invoke(
        FunctionName=stack.physical_name(logical_id), Payload=json.dumps(event).encode()
    )
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def test_invoke_runs_the_real_handler_and_returns_its_result(probe_stack: LocalStack) -> None:
    payload, error = _invoke(probe_stack, "FirstProbeFunction", {"id": "1", "x": [1, 2]})

    assert error is None
    assert payload["probe"] == "first"
    assert payload["echo"] == {"id": "1", "x": [1, 2]}
    assert payload["function_name"] == probe_stack.physical_name("FirstProbeFunction")
    assert payload["remaining_ms_positive"] is True
    # The handler's own AWS call landed in the emulator's table.
    item = probe_stack.client("dynamodb").get_item(
        TableName=probe_stack.physical_name("ProbeTable"), Key={"pk": {"S": "first#1"}}
    )
    assert "Item" in item


def test_each_function_gets_its_own_template_environment(probe_stack: LocalStack) -> None:
    first, _ = _invoke(probe_stack, "FirstProbeFunction", {})
    second, _ = _invoke(probe_stack, "SecondProbeFunction", {})

    assert (first["probe"], first["greeting"]) == ("first", "hello")
    assert (second["probe"], second["greeting"]) == ("second", f"hello, {probe_stack.region}")
    assert first["shared"] == second["shared"] == "from-globals"


def test_module_is_initialised_once_per_function(probe_stack: LocalStack) -> None:
    function = probe_stack.function("FirstProbeFunction")
    for i in range(3):
        _invoke(probe_stack, "FirstProbeFunction", {"id": f"warm-{i}"})
    assert function.cold_starts == 1


def test_handler_exception_is_a_lambda_function_error(probe_stack: LocalStack) -> None:
    payload, error = _invoke(probe_stack, "FirstProbeFunction", {"fail": True})

    assert error is not None
    assert payload["errorType"] == "ProbeFailureError"
    assert payload["errorMessage"] == "first was asked to fail"


def test_timeout_is_enforced_like_lambda(probe_stack: LocalStack) -> None:
    started = time.monotonic()
    payload, error = _invoke(probe_stack, "SlowProbeFunction", {"sleep": 3})

    assert error is not None
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "1.00 seconds" in payload["errorMessage"]
    assert time.monotonic() - started < 2.9


def test_step_functions_sees_the_error_type_for_retry_and_catch(probe_stack: LocalStack) -> None:
    """The ASL matches Retry/Catch on errorType; the local runtime must deliver it the same way."""
    sfn = probe_stack.client("stepfunctions")
    definition = {
        "StartAt": "Probe",
        "States": {
            "Probe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": probe_stack.arn("FirstProbeFunction"), "Payload.$": "$"},
                "ResultSelector": {"result.$": "$.Payload"},
                "ResultPath": "$.probe",
                "Catch": [{"ErrorEquals": ["ProbeFailureError"], "ResultPath": "$.error", "Next": "Caught"}],
                "Next": "Done",
            },
            "Caught": {"Type": "Pass", "Result": "caught", "ResultPath": "$.outcome", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    role = probe_stack.client("iam").create_role(RoleName="routing-probe-sfn", AssumeRolePolicyDocument="{}")
    machine = sfn.create_state_machine(
        name="routing-probe", definition=json.dumps(definition), roleArn=role["Role"]["Arn"]
    )["stateMachineArn"]

    outputs = []
    for name, event in (("ok", {"id": "sfn"}), ("fails", {"fail": True})):
        arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(event))["executionArn"]
        deadline = time.monotonic() + 30
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "execution did not finish"
            time.sleep(0.05)
        assert described["status"] == "SUCCEEDED"
        outputs.append(json.loads(described["output"]))

    assert outputs[0]["probe"]["result"]["probe"] == "first"
    assert outputs[1]["outcome"] == "caught"
    assert outputs[1]["error"]["Error"] == "ProbeFailureError"


# ---------------------------------------------------------------- the SDK hooks of the crash matrix
def test_handler_sdk_calls_are_observed_through_botocore_events(probe_stack: LocalStack) -> None:
    """The probe builds its client at import, from boto3's default session: it inherits the hooks."""
    mark = OBSERVER.mark()
    _invoke(probe_stack, "FirstProbeFunction", {"id": "observed"})
    calls = OBSERVER.since(mark)
    assert [(c.function, c.service, c.operation) for c in calls] == [
        ("FirstProbeFunction", "dynamodb", "PutItem")
    ]
    probe_stack.client("dynamodb").describe_table(TableName=probe_stack.physical_name("ProbeTable"))
    assert len(OBSERVER.since(mark)) == 1  # calls outside an invocation (tests, tools) are not the system's


@pytest.mark.parametrize(
    ("kind", "error_type", "written"),
    [
        (FaultKind.TRANSIENT_BEFORE, "EndpointConnectionError", False),
        (FaultKind.TRANSIENT_AFTER, "ReadTimeoutError", True),
        (FaultKind.CRASH_BEFORE, "Runtime.ExitError", False),
        (FaultKind.CRASH_AFTER, "Runtime.ExitError", True),
    ],
)
def test_a_planned_fault_hits_the_call_it_names(
    probe_stack: LocalStack, kind: FaultKind, error_type: str, written: bool
) -> None:
    item_id = f"fault-{kind.value}-{time.time_ns()}"
    fault = OBSERVER.plan("FirstProbeFunction", 1, kind)
    payload, error = _invoke(probe_stack, "FirstProbeFunction", {"id": item_id})
    assert fault.fired
    assert error is not None
    assert payload["errorType"] == error_type
    stored = probe_stack.client("dynamodb").get_item(
        TableName=probe_stack.physical_name("ProbeTable"), Key={"pk": {"S": f"first#{item_id}"}}
    )
    assert ("Item" in stored) is written
    again, error = _invoke(probe_stack, "FirstProbeFunction", {"id": item_id})  # a fault fires once
    assert error is None, again
