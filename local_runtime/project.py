"""The project's stack in the local runtime: template.yaml with the local parameter values."""

from __future__ import annotations

from collections.abc import Mapping

from execctl.operations import Operations
from local_runtime.emulator import DEFAULT_STACK_NAME, LocalEmulator, LocalStack

# The local CRM test server listens on plain http on a loopback port chosen at start-up.
# The demo users sign in with a password through the admin API (exec-local token), so that flow is on.
LOCAL_PARAMETERS = {
    "CrmAllowedOrigins": "http://127.0.0.1:*",
    "CrmReadTimeoutSeconds": "2",
    "AdminPasswordAuth": "enabled",
}


def deploy_project(
    emulator: LocalEmulator,
    stack_name: str = DEFAULT_STACK_NAME,
    log_level: str | None = None,
    parameters: Mapping[str, str] | None = None,
) -> LocalStack:
    """Deploy template.yaml with the local values; ``parameters`` overrides any of the template's.

    E.g. ``{"AllowedOrigins": "http://localhost:5173"}`` (a CommaDelimitedList, comma separated).
    """
    overrides = LOCAL_PARAMETERS | ({"LogLevel": log_level} if log_level else {}) | dict(parameters or {})
    return emulator.deploy(stack_name=stack_name, parameter_overrides=overrides)


def operations_for(stack: LocalStack) -> Operations:
    return Operations(stack.client, stack.outputs(), stack.stack_name)
