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
