"""`make bench`: the cost of one successful execution per tool, measured on the local runtime.

Prints one `name: value` per line: AWS requests by service (what the functions and the state machine
send; the harness's own polling is excluded), state transitions and Lambda invocations.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections import Counter

from local_runtime.crm_server import CrmTestServer
from local_runtime.emulator import LocalEmulator, LocalStack
from local_runtime.intents import new_intent
from local_runtime.operations import Operations
from local_runtime.project import deploy_project, operations_for

SAMPLES = {
    "internal.create_note": ("CREATE_INTERNAL_NOTE", {"title": "Call back"}),
    "internal.create_task": ("CREATE_INTERNAL_TASK", {"title": "Prepare quote", "due_date": "2026-12-01"}),
    "crm.create_task": ("CREATE_CRM_TASK", {"subject": "Follow up", "priority": "High"}),
}


def _state_transitions(stack: LocalStack, execution_arn: str) -> int:
    history = stack.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return sum(1 for event in history if event["type"].endswith("StateEntered"))


def measure(emulator: LocalEmulator, stack: LocalStack, ops: Operations, tool: str) -> dict[str, int]:
    action_type, parameters = SAMPLES[tool]
    intent = new_intent("bench-tenant", "bench-account", action_type, parameters)
    ops.put_intent(intent)
    assert emulator.meter is not None
    requests_before = emulator.meter.snapshot()
    invocations_before = sum(f.invocations for f in stack.functions.values())
    ops.approve("bench-tenant", "bench-account", intent.action_intent_id)
    (execution,) = ops.wait_for_executions(intent.action_intent_id)
    if execution.status != "SUCCEEDED":
        raise SystemExit(f"{tool}: execution ended {execution.status}; nothing to measure")
    requests: Counter[str] = emulator.meter.snapshot() - requests_before
    figures = {f"requests.{service}": count for service, count in sorted(requests.items())}
    figures["requests.total"] = sum(requests.values())
    figures["state_transitions"] = _state_transitions(stack, execution.execution_arn)
    figures["lambda_invocations"] = sum(f.invocations for f in stack.functions.values()) - invocations_before
    return figures


def main() -> int:
    token = secrets.token_urlsafe(16)
    with LocalEmulator() as emulator:
        stack = deploy_project(emulator, log_level="ERROR")
        crm = CrmTestServer(token=token).start()
        try:
            ops = operations_for(stack)
            ops.publish_registry()
            ops.configure_tenant("bench-tenant", ["bench-account"])
            ops.connect_crm("bench-tenant", "bench-account", crm.base_url, token)
            # Warm every function once so the measured runs are not cold starts of the emulator.
            measure(emulator, stack, ops, "internal.create_note")
            results = {tool: measure(emulator, stack, ops, tool) for tool in SAMPLES}
        finally:
            crm.stop()
    for tool, figures in results.items():
        for name, value in figures.items():
            print(f"{tool}.{name}: {value}")
    if "--json" in sys.argv:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
