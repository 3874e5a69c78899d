"""`make bench`: what one execution costs, per tool and on the duplicate and kill-switch paths.

Measured on the local runtime after a warm-up (no cold starts, first-read caches filled). Prints one
`name: value` per line:

* ``<path>.billed_transitions``: states entered (Step Functions Standard bills each one);
* ``<path>.lambda_invocations``: the invocations Step Functions makes (counted apart from handler calls),
  and ``.outbox`` / ``.finalizer``: the ones the outcome's stream record and the execution's status-change
  event cause afterwards (the outbox publisher, the reconciler);
* ``<path>.handler_requests.total`` and ``.<service>`` / ``.<step>``: AWS SDK requests made by handler code,
  seen through botocore's event hooks (local_runtime.sdk_events);
* DynamoDB request units and Lambda GB-seconds behind the cost, and ``<path>.cost_per_million_usd`` from
  the public us-east-1 prices in tests/benchmarks/prices.py. Lambda durations are this machine's wall time
  of the in-process handlers against the emulator: an estimate, not Lambda's billed duration.

Then ``outbox.*``: what publishing from the outcome stream costs per million executions, one record per
invocation and in a burst (records batch up), next to publishing inside the recorder as before (the same
PutEvents call, billed as the recorder's extra duration instead of an invocation of its own).
"""

from __future__ import annotations

import json
import math
import secrets
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from execctl.operations import Operations
from local_runtime import eventbridge
from local_runtime.crm_server import CrmTestServer
from local_runtime.emulator import LocalEmulator, LocalStack
from local_runtime.intents import new_intent
from local_runtime.output import functions_logging_to
from local_runtime.project import deploy_project, operations_for
from local_runtime.runtime_state import function_log_file
from local_runtime.sdk_events import OBSERVER, SdkCall, dynamodb_capacity
from tests.benchmarks import prices

TENANT, ACCOUNT = "bench-tenant", "bench-account"
TOOLS = {
    "internal.create_note": ("CREATE_INTERNAL_NOTE", {"title": "Call back"}),
    "internal.create_task": ("CREATE_INTERNAL_TASK", {"title": "Prepare quote", "due_date": "2026-12-01"}),
    "crm.create_task": ("CREATE_CRM_TASK", {"subject": "Follow up", "priority": "High"}),
}
PIPELINE = {
    "PrepareExecutionFunction",
    "InternalAdapterFunction",
    "CrmAdapterFunction",
    "ExecutionRecorderFunction",
    "ExecutionFailureRecorderFunction",
}
STEPS = {
    "PrepareExecutionFunction": "prepare",
    "InternalAdapterFunction": "act",
    "CrmAdapterFunction": "act",
    "ExecutionRecorderFunction": "record",
    "ExecutionFailureRecorderFunction": "record_failure",
    "OutcomePublisherFunction": "outbox",
    "ReconcilerFunction": "finalizer",
}


@dataclass
class Run:
    transitions: int
    invocations: Counter[str]  # by function logical id
    calls: list[SdkCall]
    durations_ms: list[float] = field(default_factory=list)
    publisher_durations_ms: list[float] = field(default_factory=list)
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
        invocations = sum(self.invocations.values())
        cost = (
            self.transitions * prices.STEP_FUNCTIONS_PER_TRANSITION
            + invocations * prices.LAMBDA_PER_REQUEST
            + gb_seconds * prices.LAMBDA_ARM64_PER_GB_SECOND
            + write_units * prices.DYNAMODB_PER_WRITE_UNIT
            + read_units * prices.DYNAMODB_PER_READ_UNIT
            + by_service["s3"] * prices.S3_PER_PUT
            + events * prices.EVENTBRIDGE_PER_EVENT
            + by_service["secretsmanager"] * prices.SECRETS_MANAGER_PER_CALL
        )
        figures: dict[str, float] = {
            "billed_transitions": self.transitions,
            "lambda_invocations": sum(n for f, n in self.invocations.items() if f in PIPELINE),
            "lambda_invocations.outbox": self.invocations["OutcomePublisherFunction"],
            "lambda_invocations.finalizer": self.invocations["ReconcilerFunction"],
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
        """Approve, wait for the ``count``-th execution of the intent and everything it sets off (the
        outbox, the finalizer), and measure only that."""
        functions = self.stack.functions.values()
        invocations = Counter({f.logical_id: f.invocations for f in functions})
        durations = {f.logical_id: len(f.durations) for f in functions}
        mark = OBSERVER.mark()
        approve()
        executions = self.ops.wait_for_executions(intent_id, count=count)
        self.stack.wait_for_streams()
        eventbridge.wait_for_deliveries()
        execution = max(executions, key=lambda e: self._started(e.execution_arn))
        history = self.stack.client("stepfunctions").get_execution_history(
            executionArn=execution.execution_arn
        )
        transitions = sum(1 for event in history["events"] if event["type"].endswith("StateEntered"))
        spent = {
            f.logical_id: [d * 1000 for d in list(f.durations)[durations[f.logical_id] :]] for f in functions
        }
        return Run(
            transitions=transitions,
            invocations=Counter({f.logical_id: f.invocations for f in functions}) - invocations,
            calls=OBSERVER.since(mark),
            durations_ms=[ms for values in spent.values() for ms in values],
            publisher_durations_ms=spent.get("OutcomePublisherFunction", []),
        )

    def burst(self, count: int) -> tuple[int, list[float]]:
        """``count`` approvals at once: (publisher invocations, their durations in ms) once all published."""
        publisher = self.stack.function("OutcomePublisherFunction")
        before, seen = publisher.invocations, len(publisher.durations)
        intents = [new_intent(TENANT, ACCOUNT, *TOOLS["internal.create_note"]) for _ in range(count)]
        for intent in intents:
            self.ops.put_intent(intent)
        for intent in intents:
            self.ops.approve(TENANT, ACCOUNT, intent.action_intent_id)
        for intent in intents:
            self.ops.wait_for_executions(intent.action_intent_id)
        self.stack.wait_for_streams()
        return publisher.invocations - before, [d * 1000 for d in list(publisher.durations)[seen:]]

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


BURST = 20


def _gb_seconds(durations_ms: list[float], memory_mb: int = 512) -> float:
    return (
        statistics.median(math.ceil(ms) for ms in durations_ms) / 1000 * memory_mb / 1024
        if durations_ms
        else 0.0
    )


def outbox_figures(single: Run, burst_invocations: int, burst_durations_ms: list[float]) -> dict[str, float]:
    """The publisher's cost per million executions against the in-recorder publish it replaced."""
    publish_calls = [c for c in single.calls if c.function == "OutcomePublisherFunction"]
    events_cost = sum(len(c.params.get("Entries", [])) for c in publish_calls) * prices.EVENTBRIDGE_PER_EVENT
    # One record per invocation: the single execution's publisher invocation (one record, one PutEvents).
    one_record = _gb_seconds(single.publisher_durations_ms) * prices.LAMBDA_ARM64_PER_GB_SECOND
    per_burst_invocation = (
        prices.LAMBDA_PER_REQUEST + _gb_seconds(burst_durations_ms) * prices.LAMBDA_ARM64_PER_GB_SECOND
    )
    invocations_per_outcome = burst_invocations / BURST
    return {
        "events_per_outcome": round(events_cost / prices.EVENTBRIDGE_PER_EVENT),
        "burst_outcomes": BURST,
        "publisher_invocations_per_outcome.burst": round(invocations_per_outcome, 3),
        "publisher.cost_per_million_usd.one_record_per_invocation": round(
            (prices.LAMBDA_PER_REQUEST + one_record + events_cost) * 1e6, 2
        ),
        "publisher.cost_per_million_usd.burst": round(
            (per_burst_invocation * invocations_per_outcome + events_cost) * 1e6, 2
        ),
        # Inside the recorder the same PutEvents call added its time to the recorder's billed duration
        # (the one-record publisher's duration, which is little else, bounds it from above).
        "in_recorder_publish.cost_per_million_usd": round((one_record + events_cost) * 1e6, 2),
    }


def main() -> int:
    token = secrets.token_urlsafe(16)
    results: dict[str, dict[str, float]] = {}
    # The functions' log and metric lines go to a file, never among the figures; the emulator stops first.
    with functions_logging_to(function_log_file("bench_pipeline")), LocalEmulator() as emulator:
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
            single = bench.tool("internal.create_note")[0]
            results["outbox"] = outbox_figures(single, *bench.burst(BURST))
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
