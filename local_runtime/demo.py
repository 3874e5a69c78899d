"""The main job on the embedded runtime (`make run`): sample intents through the real state machine.

Each sample is approved with an ACTION_APPROVED event, executed by statemachine/execution.asl.json
with the project's handlers, and checked against the result it must reach.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

import requests

from execctl.operations import TERMINAL_EXECUTION_STATES, ExecutionSummary, Operations
from local_runtime.api_server import LocalApiServer
from local_runtime.crm_server import CrmTestServer
from local_runtime.demo_users import create_demo_user, id_token_for, load_demo_tenants
from local_runtime.emulator import LocalStack
from local_runtime.event_tap import EventTap
from local_runtime.intents import new_intent
from local_runtime.project import operations_for

SAMPLE_INTENTS_PATH = Path(__file__).resolve().parent / "samples" / "intents.json"


@dataclass(frozen=True)
class Sample:
    name: str
    tenant_id: str
    account_id: str
    action_type: str
    parameters: dict[str, Any]
    expect: dict[str, str]
    expires_in_seconds: int = 3600
    crm_failure: int | None = None


@dataclass
class SampleResult:
    sample: Sample
    action_intent_id: str
    execution: str
    outcome: str | None
    error_class: str | None
    api_status: str | None = None
    published: list[str] = field(default_factory=list)  # detail-types the outbox published for it
    problems: list[str] = field(default_factory=list)

    @property
    def as_expected(self) -> bool:
        return not self.problems


def load_samples(path: Path = SAMPLE_INTENTS_PATH) -> tuple[list[Sample], dict[str, Any]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return [Sample(**sample) for sample in document["samples"]], document.get("tenant_settings", {})


def prepare(ops: Operations, crm: CrmTestServer, crm_token: str, tenant_settings: dict[str, Any]) -> None:
    """Registry, tenants (with their kill-switch settings) and a CRM connection for every account."""
    ops.publish_registry()
    for tenant in load_demo_tenants():
        settings = tenant_settings.get(tenant.tenant_id, {})
        ops.configure_tenant(
            tenant.tenant_id,
            tenant.account_ids,
            disabled_action_types=settings.get("disabled_action_types", []),
        )
        for account_id in tenant.account_ids:
            ops.connect_crm(tenant.tenant_id, account_id, crm.base_url, crm_token)


def seed_for_operators(ops: Operations) -> CrmTestServer:
    """What `make up` seeds for the README's execctl walk-through: the registry, the demo tenants with
    their sample kill-switch settings, and a local CRM test server every demo account is connected to.
    The caller stops the returned server."""
    _, tenant_settings = load_samples()
    crm_token = secrets.token_urlsafe(24)
    crm = CrmTestServer(token=crm_token).start()
    try:
        prepare(ops, crm, crm_token, tenant_settings)
    except BaseException:
        crm.stop()
        raise
    return crm


def follow(ops: Operations, action_intent_id: str, out: TextIO, timeout: float = 120.0) -> ExecutionSummary:
    """Wait for the intent's execution, printing each state as the state machine enters it."""
    deadline = time.monotonic() + timeout
    shown = 0
    print("  states:", end="", file=out, flush=True)
    while True:
        executions = ops.executions_for(action_intent_id)
        if executions:
            states = ops.states_entered(executions[0].execution_arn)
            for state in states[shown:]:
                print(f" {'-> ' if shown else ''}{state}", end="", file=out, flush=True)
                shown += 1
            if executions[0].status in TERMINAL_EXECUTION_STATES:
                print("", file=out, flush=True)
                return executions[0]
        if time.monotonic() > deadline:
            raise TimeoutError(f"the execution of {action_intent_id} did not finish in {timeout:.0f}s")
        time.sleep(0.05)


def run_sample(ops: Operations, crm: CrmTestServer, sample: Sample, out: TextIO) -> SampleResult:
    if sample.crm_failure is not None:
        crm.fail_next(sample.crm_failure)
    intent = new_intent(
        sample.tenant_id,
        sample.account_id,
        sample.action_type,
        sample.parameters,
        expires_in=timedelta(seconds=sample.expires_in_seconds),
    )
    ops.put_intent(intent)
    ops.approve(sample.tenant_id, sample.account_id, intent.action_intent_id)
    execution = follow(ops, intent.action_intent_id, out)
    outcome = ops.outcome(sample.tenant_id, sample.account_id, intent.action_intent_id)
    result = SampleResult(
        sample=sample,
        action_intent_id=intent.action_intent_id,
        execution=execution.status,
        outcome=outcome.status.value if outcome else None,
        error_class=outcome.error_class.value if outcome and outcome.error_class else None,
    )
    return result


def check(result: SampleResult) -> None:
    """Compare what happened (and what the API says) with what the sample expects."""
    observed = {"execution": result.execution, "outcome": result.outcome, "error_class": result.error_class}
    result.problems = [
        f"{key} is {observed[key]}, expected {wanted}"
        for key, wanted in result.sample.expect.items()
        if observed.get(key) != wanted
    ]
    expected_api = result.sample.expect.get("outcome")
    if result.api_status != expected_api:
        result.problems.append(f"the API says {result.api_status}, expected {expected_api}")
    outcome_event = "ACTION_EXECUTED" if result.outcome == "SUCCEEDED" else "ACTION_FAILED"
    if sorted(result.published) != sorted(["SIGNAL_CREATED", outcome_event]):
        result.problems.append(f"the outbox published {result.published or 'nothing'}")


def read_statuses_through_the_api(stack: LocalStack, results: list[SampleResult], out: TextIO) -> None:
    """GET each execution's status through the local API server with the tenant's real ID token."""
    outputs = stack.outputs()
    cognito = stack.client("cognito-idp")
    users = {t.tenant_id: t.user_email for t in load_demo_tenants()}
    tokens: dict[str, str] = {}
    with LocalApiServer(stack) as server:
        print(f"\nReading every status through the local API at {server.url} (Cognito ID tokens):", file=out)
        for result in results:
            tenant_id = result.sample.tenant_id
            if tenant_id not in tokens:
                tokens[tenant_id] = id_token_for(
                    cognito, outputs["UserPoolId"], outputs["UserPoolClientId"], users[tenant_id]
                )
            response = requests.get(
                f"{server.url}/executions/{result.action_intent_id}/status",
                params={"account_id": result.sample.account_id},
                headers={"Authorization": tokens[tenant_id]},
                timeout=30,
            )
            body = response.json()
            status = response.status_code
            result.api_status = body.get("status") if status == 200 else f"HTTP {status}"
            path = f"/executions/{result.action_intent_id}/status"
            print(f"  GET {path} -> {status} {result.api_status}", file=out)


def format_results(results: list[SampleResult]) -> str:
    header = (
        "sample",
        "intent",
        "execution",
        "outcome",
        "error class",
        "API status",
        "events",
        "as expected",
    )
    rows = [
        (
            r.sample.name,
            r.action_intent_id,
            r.execution,
            r.outcome or "-",
            r.error_class or "-",
            r.api_status or "-",
            str(len(r.published)),
            "yes" if r.as_expected else "NO: " + "; ".join(r.problems),
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(row)).rstrip() for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass(frozen=True)
class DemoRun:
    """What one run of the samples did: each sample's checked result, in sample order, and the CRM."""

    results: list[SampleResult]
    crm: CrmTestServer


def run_samples(stack: LocalStack, out: TextIO, samples_path: Path = SAMPLE_INTENTS_PATH) -> DemoRun:
    """Run every sample, read its status back through the API and check it (what `make run` reports)."""
    samples, tenant_settings = load_samples(samples_path)
    crm_token = secrets.token_urlsafe(24)
    crm = CrmTestServer(token=crm_token).start()
    tap = EventTap(stack)
    try:
        ops = operations_for(stack)
        prepare(ops, crm, crm_token, tenant_settings)
        cognito, pool_id = stack.client("cognito-idp"), stack.outputs()["UserPoolId"]
        for tenant in load_demo_tenants():
            create_demo_user(cognito, pool_id, tenant)
        results = []
        for sample in samples:
            print(f"approving: {sample.name} ({sample.action_type})", file=out, flush=True)
            result = run_sample(ops, crm, sample, out)
            print(f"  execution {result.execution}, outcome {result.outcome}", file=out, flush=True)
            results.append(result)
    finally:
        crm.stop()
    read_statuses_through_the_api(stack, results, out)
    for result in results:  # the outbox publishes each outcome from the outcome table's stream
        result.published = [e["detail-type"] for e in tap.events_for(result.action_intent_id)]
        check(result)
    return DemoRun(results, crm)


def run_demo(stack: LocalStack, out: TextIO, samples_path: Path = SAMPLE_INTENTS_PATH) -> int:
    """Run every sample; 0 only when each ended exactly as its sample expects."""
    run = run_samples(stack, out, samples_path)
    results, crm = run.results, run.crm
    print("", file=out)
    print(format_results(results), file=out)
    print(
        f"\nCRM test server received {crm.requests} request(s), created {len(crm.tasks)} task(s).", file=out
    )
    published = sum(len(r.published) for r in results)
    print(f"The outbox published {published} event(s) for {len(results)} outcome(s).", file=out)
    failed = [r for r in results if not r.as_expected]
    print(
        f"{len(results) - len(failed)}/{len(results)} executions ended as expected.",
        file=out,
    )
    return 1 if failed else 0
