"""The main job on the embedded runtime (`make run`): sample intents through the real state machine.

Each sample is approved with an ACTION_APPROVED event, executed by statemachine/execution.asl.json
with the project's handlers, and checked against the result it must reach.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from local_runtime.crm_server import CrmTestServer
from local_runtime.emulator import LocalStack
from local_runtime.identity import load_demo_tenants
from local_runtime.intents import new_intent
from local_runtime.operations import Operations
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


def run_sample(ops: Operations, crm: CrmTestServer, sample: Sample) -> SampleResult:
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
    (execution,) = ops.wait_for_executions(intent.action_intent_id, timeout=120)
    outcome = ops.outcome(sample.tenant_id, sample.account_id, intent.action_intent_id)
    result = SampleResult(
        sample=sample,
        action_intent_id=intent.action_intent_id,
        execution=execution.status,
        outcome=outcome.status.value if outcome else None,
        error_class=outcome.error_class.value if outcome and outcome.error_class else None,
    )
    observed = {"execution": result.execution, "outcome": result.outcome, "error_class": result.error_class}
    result.problems = [
        f"{key} is {observed[key]}, expected {wanted}"
        for key, wanted in sample.expect.items()
        if observed.get(key) != wanted
    ]
    return result


def format_results(results: list[SampleResult]) -> str:
    header = ("sample", "intent", "execution", "outcome", "error class", "as expected")
    rows = [
        (
            r.sample.name,
            r.action_intent_id,
            r.execution,
            r.outcome or "-",
            r.error_class or "-",
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


def run_demo(stack: LocalStack, out: TextIO, samples_path: Path = SAMPLE_INTENTS_PATH) -> int:
    """Run every sample; 0 only when each ended exactly as its sample expects."""
    samples, tenant_settings = load_samples(samples_path)
    crm_token = secrets.token_urlsafe(24)
    crm = CrmTestServer(token=crm_token).start()
    try:
        ops = operations_for(stack)
        prepare(ops, crm, crm_token, tenant_settings)
        results = []
        for sample in samples:
            print(f"approving: {sample.name} ...", file=out, flush=True)
            result = run_sample(ops, crm, sample)
            print(f"  -> execution {result.execution}, outcome {result.outcome}", file=out, flush=True)
            results.append(result)
    finally:
        crm.stop()
    print("", file=out)
    print(format_results(results), file=out)
    print(
        f"\nCRM test server received {crm.requests} request(s), created {len(crm.tasks)} task(s).", file=out
    )
    failed = [r for r in results if not r.as_expected]
    print(
        f"{len(results) - len(failed)}/{len(results)} executions ended as expected.",
        file=out,
    )
    return 1 if failed else 0
