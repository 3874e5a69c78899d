"""Cold starts pay for the X-Ray SDK only with tracing on (Powertools' Tracer, ADR 0014), never for
pydantic-settings, nor for anything the local emulator needs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from local_runtime.emulator import LocalStack
from local_runtime.lambdas import LocalFunction
from local_runtime.template import PROJECT_ROOT

pytestmark = pytest.mark.emulator

_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


def _imported(function: LocalFunction, **extra: str) -> tuple[set[str], str]:
    env = {**function.environment, "PYTHONPATH": str(PROJECT_ROOT / "layers" / "common"), "PATH": "", **extra}
    result = subprocess.run(  # noqa: S603 - our interpreter, our handler
        [sys.executable, "-c", _PROBE, str(function.code_dir / "app.py")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1])), result.stderr


def test_no_handler_imports_the_xray_sdk_or_test_tooling(runtime: LocalStack) -> None:
    for logical_id, function in runtime.functions.items():
        modules, _ = _imported(function)  # the local runtime's environment: POWERTOOLS_TRACE_DISABLED=true
        assert "aws_lambda_powertools" in modules, logical_id  # the probe really imported the handler
        for forbidden in ("aws_xray_sdk", "pydantic_settings", "dotenv", "moto", "local_runtime", "pytest"):
            assert forbidden not in modules, (logical_id, forbidden)


def test_with_tracing_on_every_handler_loads_the_tracer_quietly(runtime: LocalStack) -> None:
    for logical_id, function in runtime.functions.items():
        modules, stderr = _imported(
            function, LAMBDA_TASK_ROOT=str(function.code_dir), POWERTOOLS_TRACE_DISABLED="false"
        )
        assert "aws_xray_sdk" in modules, logical_id
        assert stderr == "", (logical_id, stderr)  # no X-Ray daemon here: no complaint at init


# Parts of the shared package only some functions use, and the functions that may import each: a function
# imports only what its own path runs (ADR 0014), so no cold start pays for another function's domain.
_RECORDERS = {"ExecutionRecorderFunction", "ExecutionFailureRecorderFunction", "ReconcilerFunction"}
_ADAPTERS = {"InternalAdapterFunction", "CrmAdapterFunction"}
_STATUS_API = {"ExecutionStatusApiFunction"}
ONLY_FOR = {
    # kill switches and tenant membership: the adapters re-authorize, the status API checks membership
    "execution_core.models.tenant": _ADAPTERS | _STATUS_API,
    "execution_core.repositories.tenants": _ADAPTERS | _STATUS_API,
    # the effect store's records (write dedupe, internal objects, connector configuration)
    "execution_core.models.adapters": _ADAPTERS | _RECORDERS,
    "execution_core.models.registry": {"PrepareExecutionFunction"},
    "execution_core.repositories.registry": {"PrepareExecutionFunction"},
    "execution_core.services.prepare": {"PrepareExecutionFunction"},
    "execution_core.services.recording": _RECORDERS,
    "execution_core.services.reconciler": {"ReconcilerFunction"},
    "execution_core.adapters.internal": {"InternalAdapterFunction"},
    "execution_core.adapters.crm": {"CrmAdapterFunction"},
    "execution_core.adapters.allowlist": {"CrmAdapterFunction"},
    "execution_core.repositories.connector_config": {"CrmAdapterFunction"},
    "execution_core.repositories.status_read": _STATUS_API,
    "execution_core.services.status": _STATUS_API,
    "execution_core.api.http": _STATUS_API,
    # operators' commands only (execctl)
    "execution_core.services.switches": set(),
    "execution_core.services.registry": set(),
    # Powertools' batch utility imports its parser's pydantic models (for type hints) when pydantic is
    # imported before it: about 20 ms of OutcomePublisher's init, if its imports were reordered
    "aws_lambda_powertools.utilities.parser": set(),
}
_MODULES_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("execution_core", "aws_lambda_powertools")))))
"""


def test_each_handler_imports_only_the_shared_code_its_own_path_uses(runtime: LocalStack) -> None:
    assert {*_RECORDERS, *_ADAPTERS, *_STATUS_API} <= set(runtime.functions)  # the rules name real functions
    for logical_id, function in runtime.functions.items():
        env = {**function.environment, "PYTHONPATH": str(PROJECT_ROOT / "layers" / "common"), "PATH": ""}
        result = subprocess.run(  # noqa: S603 - our interpreter, our handler
            [sys.executable, "-c", _MODULES_PROBE, str(function.code_dir / "app.py")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        modules = set(json.loads(result.stdout.strip().splitlines()[-1]))
        assert "execution_core.wiring" in modules, logical_id  # the probe really imported the handler
        unexpected = {m for m, allowed in ONLY_FOR.items() if m in modules and logical_id not in allowed}
        assert unexpected == set(), logical_id
