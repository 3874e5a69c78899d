"""Cold starts do not pay for the X-Ray SDK: Lambda's active tracing records every invocation without it,
and no handler imports it (nor anything the local emulator needs)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from local_runtime.emulator import LocalStack
from local_runtime.template import PROJECT_ROOT

pytestmark = pytest.mark.emulator

_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


def test_no_handler_imports_the_xray_sdk_or_test_tooling(runtime: LocalStack) -> None:
    for logical_id, function in runtime.functions.items():
        env = {**function.environment, "PYTHONPATH": str(PROJECT_ROOT / "layers" / "common"), "PATH": ""}
        result = subprocess.run(  # noqa: S603 - our interpreter, our handler
            [sys.executable, "-c", _PROBE, str(function.code_dir / "app.py")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        modules = set(result.stdout.strip().splitlines()[-1].strip("[]").replace('"', "").split(", "))
        assert "aws_lambda_powertools" in modules, logical_id  # the probe really imported the handler
        for forbidden in ("aws_xray_sdk", "moto", "local_runtime", "pytest"):
            assert forbidden not in modules, (logical_id, forbidden)
