"""`make bench`: cold init of each handler module in a fresh process, against a bare boto3 + one client.

Each sample is a new Python process that imports the handler exactly as Lambda's runtime would (with the
function's template environment); the baseline process imports boto3 and creates one client. Medians
of several runs, and their ratio, measured in the same run on the same machine.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from local_runtime.emulator import LocalEmulator
from local_runtime.project import deploy_project
from local_runtime.template import PROJECT_ROOT

RUNS = 7
_CHILD = """
import importlib.util, sys, time
started = time.perf_counter()
{body}
print((time.perf_counter() - started) * 1000)
"""
_HANDLER = """
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""
_BASELINE = """
import boto3
boto3.client("dynamodb")
"""


def _sample(body: str, env: dict[str, str]) -> float:
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _CHILD.format(body=body)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> int:
    layer = str(PROJECT_ROOT / "layers" / "common")
    base_env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    with LocalEmulator() as emulator:
        stack = deploy_project(emulator)
        functions = dict(sorted(stack.functions.items()))
        baseline_env = {**base_env, **next(iter(functions.values())).environment}
        results: dict[str, float] = {}
        samples: dict[str, list[float]] = {"baseline_boto3_client": [], **{lid: [] for lid in functions}}
        for _ in range(RUNS):  # interleaved, so machine noise spreads over every subject alike
            samples["baseline_boto3_client"].append(_sample(_BASELINE, baseline_env))
            for logical_id, function in functions.items():
                env = {**base_env, **function.environment, "PYTHONPATH": layer}
                path = str(Path(function.code_dir) / "app.py")
                samples[logical_id].append(_sample(_HANDLER.format(path=path), env))
        results = {name: statistics.median(values) for name, values in samples.items()}
    baseline = results["baseline_boto3_client"]
    print(f"cold_init.runs: {RUNS}")
    print(f"cold_init.baseline_boto3_client.median_ms: {baseline:.1f}")
    for logical_id in functions:
        print(f"cold_init.{logical_id}.median_ms: {results[logical_id]:.1f}")
        print(f"cold_init.{logical_id}.ratio_to_baseline: {results[logical_id] / baseline:.2f}")
    if "--json" in sys.argv:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
