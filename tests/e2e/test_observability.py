"""What operators see: EMF metrics with the right names and dimensions, JSON logs carrying the
correlation keys, and never a token, a secret or an intent's parameters in any log line."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from local_runtime.crm_server import CrmTestServer
from local_runtime.emulator import LocalStack
from tests.e2e.conftest import CRM_TOKEN, Tenant

pytestmark = pytest.mark.emulator


def _run_and_capture(
    runtime: LocalStack, tenant: Tenant, action_type: str, parameters: dict[str, Any]
) -> list[str]:
    before = {lid: len(f.invocation_logs) for lid, f in runtime.functions.items()}
    tenant.run(tenant.intent(action_type, parameters))
    lines: list[str] = []
    for logical_id, function in runtime.functions.items():
        lines += [line for log in list(function.invocation_logs)[before[logical_id] :] for line in log.lines]
    return lines


def _json_lines(lines: list[str]) -> list[dict[str, Any]]:
    parsed = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            parsed.append(value)
    return parsed


def _metrics(lines: list[str], stack_name: str) -> dict[str, dict[str, str]]:
    """EMF metric name -> its dimensions; every line in the stack's own namespace."""
    found: dict[str, dict[str, str]] = {}
    for record in _json_lines(lines):
        emf = record.get("_aws")
        if not emf:
            continue
        directive = emf["CloudWatchMetrics"][0]
        assert directive["Namespace"] == f"BoundedExecution/{stack_name}"
        dimensions = {name: record[name] for name in directive["Dimensions"][0]}
        for metric in directive["Metrics"]:
            assert record[metric["Name"]] == 1.0 or record[metric["Name"]] == [1.0]
            found[metric["Name"]] = dimensions
    return found


def test_success_emits_metrics_and_correlated_logs(tenant: Tenant, runtime: LocalStack) -> None:
    lines = _run_and_capture(runtime, tenant, "CREATE_INTERNAL_NOTE", {"title": "note " + uuid.uuid4().hex})

    metrics = _metrics(lines, runtime.stack_name)
    assert metrics["ExecutionsStarted"] == {"service": "prepare-execution"}
    assert metrics["ExecutionsSucceeded"] == {"service": "execution-recorder"}
    assert metrics["SignalsEmitted"] == {"service": "execution-recorder"}
    logs = [r for r in _json_lines(lines) if "level" in r]
    assert {r["service"] for r in logs} >= {"prepare-execution", "internal-adapter", "execution-recorder"}
    for record in logs:
        assert record["tenant_id"] == tenant.tenant_id, record
        assert record["account_id"] == tenant.account_id, record
        assert record["action_intent_id"].startswith("ai-"), record
        assert record.get("trace_id", "").startswith("trace-"), record


def test_failure_emits_executions_failed_by_error_class(
    tenant: Tenant, runtime: LocalStack, crm_server: CrmTestServer
) -> None:
    crm_server.fail_next(401)
    lines = _run_and_capture(runtime, tenant, "CREATE_CRM_TASK", {"subject": "s " + uuid.uuid4().hex})

    metrics = _metrics(lines, runtime.stack_name)
    assert metrics["ExecutionsFailed"] == {"service": "execution-failure-recorder", "error_class": "AUTH"}
    assert metrics["SignalsEmitted"] == {"service": "execution-failure-recorder"}
    assert "ExecutionsSucceeded" not in metrics


def test_kill_switch_block_is_counted(tenant: Tenant, runtime: LocalStack) -> None:
    tenant.ops.configure_tenant(tenant.tenant_id, [tenant.account_id], execution_enabled=False)
    metrics = _metrics(
        _run_and_capture(runtime, tenant, "CREATE_INTERNAL_NOTE", {"title": "blocked"}), runtime.stack_name
    )
    assert metrics["KillSwitchBlocked"] == {"service": "internal-adapter"}
    assert metrics["ExecutionsCancelled"] == {"service": "execution-failure-recorder"}


def test_no_log_line_carries_a_token_a_secret_or_intent_parameters(
    tenant: Tenant, runtime: LocalStack, crm_server: CrmTestServer
) -> None:
    secret_subject = "confidential-" + uuid.uuid4().hex
    secret_description = "pii-" + uuid.uuid4().hex
    lines = _run_and_capture(
        runtime,
        tenant,
        "CREATE_CRM_TASK",
        {"subject": secret_subject, "description": secret_description, "priority": "High"},
    )
    crm_server.fail_next(401)
    lines += _run_and_capture(runtime, tenant, "CREATE_CRM_TASK", {"subject": secret_subject})

    assert lines, "nothing was logged: the check below would prove nothing"
    text = "\n".join(lines)
    for forbidden in (CRM_TOKEN, secret_subject, secret_description, "access_token", "Bearer "):
        assert forbidden not in text, forbidden
