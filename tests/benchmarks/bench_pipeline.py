"""`make bench`: what one execution costs, per tool and on the duplicate and kill-switch paths.

Measured on the local runtime after a warm-up (no cold starts, first-read caches filled). Prints one
`name: value` per line:

* ``<path>.billed_transitions``: states entered (Step Functions Standard bills each one);
* ``<path>.lambda_invocations``: the invocations Step Functions makes (counted apart from handler calls);
* ``<path>.handler_requests.total`` and ``.<service>`` / ``.<step>``: AWS SDK requests made by handler code,
  seen through botocore's event hooks (local_runtime.sdk_events);
* DynamoDB request units and Lambda GB-seconds behind the cost, and ``<path>.cost_per_million_usd`` from
  the public us-east-1 prices in tests/benchmarks/prices.py. Lambda durations are this machine's wall time
  of the in-process handlers against the emulator: an estimate, not Lambda's billed duration.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from local_runtime.crm_server import CrmTestServer
from local_runtime.emulator import LocalEmulator, LocalStack
from local_runtime.intents import new_intent
from local_runtime.operations import Operations
from local_runtime.output import router
from local_runtime.project import deploy_project, operations_for
from local_runtime.sdk_events import OBSERVER, SdkCall, dynamodb_capacity
from tests.benchmarks import prices

TENANT, ACCOUNT = "bench-tenant", "bench-account"
TOOLS = {
    "internal.create_note": ("CREATE_INTERNAL_NOTE", {"title": "Call back"}),
    "internal.create_task": ("CREATE_INTERNAL_TASK", {"title": "Prepare quote", "due_date": "2026-12-01"}),
    "crm.create_task": ("CREATE_CRM_TASK", {"subject": "Follow up", "priority": "High"}),
}
STEPS = {
    "PrepareExecutionFunction": "prepare",
    "InternalAdapterFunction": "act",
    "CrmAdapterFunction": "act",
    "ExecutionRecorderFunction": "record",
    "ExecutionFailureRecorderFunction": "record_failure",
}


@dataclass
class Run:
    transitions: int
    invocations: int
    calls: list[SdkCall]
    durations_ms: list[float] = field(default_factory=list)
    memory_mb: int = 512

    def figures(self) -> dict[str, float]:
        by_service = Counter(c.service for c in self.calls)
        by_step = Counter(STEPS.get(c.function, c.function) for c in self.calls)
        write_units = read_units = 0.0
        for call in self.calls:
            if call.service == "dynamodb":
                write, read = dynamodb_capacity(call)
                write_units, read_units = write_units + write, read_units + read
        events = sum(len(c.params.get("Entries", [])) for c in self.calls if c.operation == "PutEvents")
        gb_seconds = sum(math.ceil(ms) / 1000 * self.memory_mb / 1024 for ms in self.durations_ms)
        cost = (
            self.transitions * prices.STEP_FUNCTIONS_PER_TRANSITION
            + self.invocations * prices.LAMBDA_PER_REQUEST
            + gb_seconds * prices.LAMBDA_ARM64_PER_GB_SECOND
            + write_units * prices.DYNAMODB_PER_WRITE_UNIT
            + read_units * prices.DYNAMODB_PER_READ_UNIT
            + by_service["s3"] * prices.S3_PER_PUT
            + events * prices.EVENTBRIDGE_PER_EVENT
            + by_service["secretsmanager"] * prices.SECRETS_MANAGER_PER_CALL
        )
        figures: dict[str, float] = {
            "billed_transitions": self.transitions,
            "lambda_invocations": self.invocations,
            "handler_requests.total": len(self.calls),
        }
        figures |= {f"handler_requests.{service}": n for service, n in sorted(by_service.items())}
        figures |= {f"handler_requests.step.{step}": n for step, n in sorted(by_step.items())}
        figures |= {
            "dynamodb_write_units": write_units,
            "dynamodb_read_units": read_units,
            "events_published": events,
            "lambda_gb_seconds": round(gb_seconds, 6),
            "cost_per_million_usd": round(cost * 1_000_000, 2),
        }
        return figures


@dataclass
class Bench:
    stack: LocalStack
    ops: Operations

    def execute(self, approve: Callable[[], str], intent_id: str, count: int = 1) -> Run:
        """Approve, wait for the ``count``-th execution of the intent, and measure only that one."""
        functions = self.stack.functions.values()
        invocations = sum(f.invocations for f in functions)
        durations = {f.logical_id: len(f.durations) for f in functions}
        mark = OBSERVER.mark()
        approve()
        executions = self.ops.wait_for_executions(intent_id, count=count)
        execution = max(executions, key=lambda e: self._started(e.execution_arn))
        history = self.stack.client("stepfunctions").get_execution_history(
            executionArn=execution.execution_arn
        )
        transitions = sum(1 for event in history["events"] if event["type"].endswith("StateEntered"))
        spent = [d * 1000 for f in functions for d in list(f.durations)[durations[f.logical_id] :]]
        return Run(
            transitions=transitions,
            invocations=sum(f.invocations for f in functions) - invocations,
            calls=OBSERVER.since(mark),
            durations_ms=spent,
        )

    def _started(self, arn: str) -> str:
        described = self.stack.client("stepfunctions").describe_execution(executionArn=arn)
        return str(described["startDate"].isoformat())

    def tool(self, tool: str) -> tuple[Run, str]:
        action_type, parameters = TOOLS[tool]
        intent = new_intent(TENANT, ACCOUNT, action_type, parameters)
        self.ops.put_intent(intent)
        run = self.execute(
            lambda: self.ops.approve(TENANT, ACCOUNT, intent.action_intent_id), intent.action_intent_id
        )
        return run, intent.action_intent_id

    def duplicate(self, intent_id: str) -> Run:
        """A second approval of an intent that already finished."""
        return self.execute(lambda: self.ops.approve(TENANT, ACCOUNT, intent_id), intent_id, count=2)

    def kill_switch(self) -> Run:
        """The tenant is stopped: Prepare, the refused effect, the recorded cancellation."""
        self.ops.set_tenant_execution(TENANT, enabled=False)
        try:
            run, _ = self.tool("internal.create_note")
        finally:
            self.ops.set_tenant_execution(TENANT, enabled=True)
        return run


def main() -> int:
    token = secrets.token_urlsafe(16)
    results: dict[str, dict[str, float]] = {}
    with LocalEmulator() as emulator, open(os.devnull, "w", encoding="utf-8") as quiet:
        router().divert = quiet  # the functions' log and metric lines stay off the figures
        stack = deploy_project(emulator, log_level="ERROR")
        crm = CrmTestServer(token=token).start()
        try:
            ops = operations_for(stack)
            ops.publish_registry()
            ops.configure_tenant(TENANT, [ACCOUNT])
            ops.connect_crm(TENANT, ACCOUNT, crm.base_url, token)
            bench = Bench(stack, ops)
            for tool in TOOLS:  # warm every function and cache once; measure the second run
                bench.tool(tool)
            for tool in TOOLS:
                run, intent_id = bench.tool(tool)
                results[tool] = run.figures()
            results["duplicate"] = bench.duplicate(intent_id).figures()
            results["kill_switch"] = bench.kill_switch().figures()
        finally:
            crm.stop()
    for path, figures in results.items():
        for name, value in figures.items():
            print(f"{path}.{name}: {value:g}" if isinstance(value, float) else f"{path}.{name}: {value}")
    if "--json" in sys.argv:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
