"""End-to-end fixtures: the real state machine on the local runtime, a CRM test server, fresh tenants."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from execctl.operations import Operations
from execution_core.models.intent import ActionIntent
from local_runtime import runtime_state
from local_runtime.crm_server import CrmTestServer
from local_runtime.emulator import LocalStack
from local_runtime.event_tap import EventTap
from local_runtime.intents import new_intent
from local_runtime.project import operations_for

CRM_TOKEN = "crm-test-token-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def ops(runtime: LocalStack) -> Operations:
    operations = operations_for(runtime)
    operations.publish_registry()
    return operations


@pytest.fixture(scope="session")
def crm_server() -> Iterator[CrmTestServer]:
    server = CrmTestServer(token=CRM_TOKEN).start()
    yield server
    server.stop()


@dataclass
class Tenant:
    """A freshly configured tenant with one account connected to the CRM test server."""

    tenant_id: str
    account_id: str
    ops: Operations

    def intent(
        self,
        action_type: str = "CREATE_INTERNAL_NOTE",
        parameters: dict[str, Any] | None = None,
        *,
        expires_in: timedelta = timedelta(hours=1),
        store: bool = True,
    ) -> ActionIntent:
        default_parameters: dict[str, dict[str, Any]] = {
            "CREATE_INTERNAL_NOTE": {"title": "Call back", "body": "Customer asked for a call"},
            "CREATE_INTERNAL_TASK": {"title": "Prepare renewal", "due_date": "2026-12-01"},
            "CREATE_CRM_TASK": {"subject": "Follow up renewal", "priority": "High", "description": "QBR"},
        }
        chosen = parameters if parameters is not None else default_parameters[action_type]
        intent = new_intent(self.tenant_id, self.account_id, action_type, chosen, expires_in=expires_in)
        if store:
            assert self.ops.put_intent(intent)
        return intent

    def run(self, intent: ActionIntent, *, timeout: float = 60.0) -> str:
        """Approve the intent and wait for its execution; returns the execution's AWS status."""
        self.ops.approve(self.tenant_id, self.account_id, intent.action_intent_id)
        executions = self.ops.wait_for_executions(intent.action_intent_id, timeout=timeout)
        assert len(executions) == 1
        return executions[0].status


@pytest.fixture(scope="session")
def tap(runtime: LocalStack) -> EventTap:
    return EventTap(runtime)


@dataclass
class Steps:
    """Invokes the pipeline's functions directly, as Step Functions would (or as a forger could)."""

    runtime: LocalStack

    def invoke(self, logical_id: str, payload: Any) -> tuple[dict[str, Any], bool]:
        """(payload, function error?) of one synchronous invocation."""
        response = self.runtime.client("lambda").invoke(
            FunctionName=self.runtime.physical_name(logical_id), Payload=json.dumps(payload)
        )
        return json.loads(response["Payload"].read()), bool(response.get("FunctionError"))

    def execution_arn(self, name: str) -> str:
        machine = self.runtime.arn("ExecutionStateMachine")
        return f"{machine.replace(':stateMachine:', ':execution:')}:{name}"

    def prepare(self, tenant: Tenant, intent: ActionIntent) -> dict[str, Any]:
        """PrepareExecution for a new (fake) execution of the intent: a real lease."""
        request = {
            "event": {
                "id": uuid.uuid4().hex,
                "detail-type": "ACTION_APPROVED",
                "detail": {
                    "action_intent_id": intent.action_intent_id,
                    "tenant_id": tenant.tenant_id,
                    "account_id": tenant.account_id,
                },
            },
            "execution_id": self.execution_arn(f"direct-{uuid.uuid4().hex}"),
        }
        prepared, failed = self.invoke("PrepareExecutionFunction", request)
        assert not failed, prepared
        return prepared

    def act(self, prepared: dict[str, Any]) -> dict[str, Any]:
        adapter = (
            "InternalAdapterFunction"
            if prepared["tool"]["tool_name"].startswith("internal.")
            else "CrmAdapterFunction"
        )
        effect, failed = self.invoke(adapter, prepared)
        assert not failed, effect
        return effect


@pytest.fixture(scope="session")
def steps(runtime: LocalStack) -> Steps:
    return Steps(runtime)


@pytest.fixture
def local_state(runtime: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What `make up` writes (runtime_state), pointing at the session's runtime, in a directory of its own."""
    directory = tmp_path / "local-runtime"
    directory.mkdir()
    monkeypatch.setenv("EXEC_LOCAL_STATE_DIR", str(directory))
    state = runtime_state.state_file()
    state.write_text(
        json.dumps(
            {
                "endpoint_url": runtime.endpoint_url,
                "region": runtime.region,
                "stack_name": runtime.stack_name,
                "outputs": runtime.outputs(),
                "pid": os.getpid(),
                "command": "pytest",
                "status": "ready",
            }
        )
    )
    return state


@pytest.fixture
def tenant(ops: Operations, crm_server: CrmTestServer) -> Tenant:
    tenant_id = f"t-{uuid.uuid4().hex[:10]}"
    account_id = f"acct-{uuid.uuid4().hex[:8]}"
    ops.configure_tenant(tenant_id, [account_id])
    ops.connect_crm(tenant_id, account_id, crm_server.base_url, CRM_TOKEN)
    crm_server.reset()
    return Tenant(tenant_id, account_id, ops)
