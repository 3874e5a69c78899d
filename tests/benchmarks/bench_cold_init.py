"""`make bench`: cold init of each handler module in a fresh process, against a bare boto3 + one client.

Each sample is a new Python process (PYTHONDONTWRITEBYTECODE=1, so no sample leaves bytecode for the next)
that imports the handler exactly as Lambda's runtime would, with the function's template environment; the
baseline process imports boto3 and creates one client. Both time only what follows interpreter start-up,
with the same interpreter and the same precompiled site-packages (pip compiles what it installs; in Lambda
boto3 is the runtime's, precompiled too). Medians of several interleaved runs, and their ratio, measured in
the same run on the same machine. The ratio is of CPU time (``median_ms``): init is CPU-bound (no call is
made), and CPU time barely moves when other work shares the machine, while wall time (``wall_median_ms``,
printed too) swings with it.

The layer is measured as Lambda gets it: a copy of execution_core compiled the way layers/common/Makefile
compiles it (unchecked-hash .pyc; /opt is read-only in Lambda, so .pyc files must ship in the layer). The
package without .pyc (a copy, as a layer built without compiling ships it) is measured too, as is each
handler with tracing on (Powertools Tracer and the X-Ray SDK, LAMBDA_TASK_ROOT set as in Lambda) against
tracing off (the template's runtime default locally). ``primed_ms`` is what SnapStart's before-snapshot
hook adds: building the models that init defers.

A second comparison, per function, separates our code from the SDK clients it needs: a baseline process
that imports boto3 and creates the clients the function's composition root creates (the same services,
as ``execution_core.aws`` recorded them in a process that imported the handler), and the handler's
``ratio_to_same_clients`` to it. The issue's target (``target_ratio_met``) stays the one-client ratio.

A third, the library floor, says how much of the rest is ours: a process that imports every module the
handler's import brought in except our own (``execution_core`` and the handler; libraries and the stdlib
modules anything imported, in the same order) and creates the same clients: what init would cost if our
code took no time at all. ``own_code_ms`` is the handler's init above it, and
``target_reachable_with_these_libraries`` says whether the one-client target can be met at all without
replacing a library.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from local_runtime.emulator import LocalEmulator
from local_runtime.project import deploy_project
from local_runtime.template import PROJECT_ROOT

RUNS = 7
_CHILD = """
import importlib.util, sys, time
started, wall = time.process_time(), time.perf_counter()
{body}
"""
_HANDLER = """
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print((time.process_time() - started) * 1000, (time.perf_counter() - wall) * 1000)
from execution_core.snapstart import build_deferred_models
primed = time.process_time()
build_deferred_models()
print((time.process_time() - primed) * 1000)
"""
_BASELINE = """
import boto3
boto3.client("dynamodb")
print((time.process_time() - started) * 1000, (time.perf_counter() - wall) * 1000)
print(0.0)
"""
# The second baseline: boto3 and the clients one handler's composition root creates.
_SAME_CLIENTS = """
import boto3
clients = [boto3.client(service) for service in {services!r}]
print((time.process_time() - started) * 1000, (time.perf_counter() - wall) * 1000)
print(0.0)
"""
# Which clients a handler creates (every client goes through execution_core.aws, which keeps them) and
# which modules its import brings in that are not ours, in import order.
_PROBE = """
import json
before = set(sys.modules)
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from execution_core.aws import created_clients
services = sorted(client.meta.service_model.service_name for client in created_clients())
ours = {{"app", "execution_core"}}
modules = [m for m in sys.modules if m not in before and m.partition(".")[0] not in ours]
print(json.dumps({{"services": services, "modules": modules}}))
"""
# The library floor: the handler's imports without our code, and the same clients.
_LIBRARY_FLOOR = """
import importlib
for name in {modules!r}:
    importlib.import_module(name)
import boto3
clients = [boto3.client(service) for service in {services!r}]
print((time.process_time() - started) * 1000, (time.perf_counter() - wall) * 1000)
print(0.0)
"""
_TRACING_ON = {"POWERTOOLS_TRACE_DISABLED": "false", "LAMBDA_TASK_ROOT": "/var/task"}
SNAPSTART_NOTE = (
    "with SnapStart (staging, prod) AWS restores all of median_ms and primed_ms from the snapshot "
    "(imports, settings, clients, built models); the restore itself cannot be measured here"
)


def _sample(body: str, env: dict[str, str]) -> tuple[float, float, float]:
    """(init CPU ms, init wall ms, priming CPU ms) of one fresh process."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _CHILD.format(body=body)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = result.stdout.strip().splitlines()
    cpu, wall = lines[-2].split()
    return float(cpu), float(wall), float(lines[-1])


def _probe(path: str, env: dict[str, str]) -> tuple[tuple[str, ...], list[str]]:
    """The services of the clients a handler creates at import (its composition root's), sorted, and the
    modules its import brings in that are not ours, in import order."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _CHILD.format(body=_PROBE.format(path=path))],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return tuple(found["services"]), list(found["modules"])


def same_clients_key(services: tuple[str, ...]) -> str:
    return "same_clients:" + "+".join(services)


def layer_copy(target: Path, *, compiled: bool) -> Path:
    """execution_core as a layer build ships it: copied without any .pyc, then compiled (if ``compiled``)
    the way layers/common/Makefile compiles it."""
    tmp = str(target)
    shutil.copytree(
        PROJECT_ROOT / "layers" / "common" / "execution_core",
        target / "execution_core",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    if not compiled:
        return target
    subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash", tmp],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target


def main() -> int:
    base_env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    with LocalEmulator() as emulator, tempfile.TemporaryDirectory(prefix="bench-layer-") as tmp:
        layer = str(layer_copy(Path(tmp) / "compiled", compiled=True))
        source_layer = str(layer_copy(Path(tmp) / "source", compiled=False))
        stack = deploy_project(emulator)
        functions = dict(sorted(stack.functions.items()))
        baseline_env = {**base_env, **next(iter(functions.values())).environment}
        variants = {
            "": {"PYTHONPATH": layer},
            "source_layer_": {"PYTHONPATH": source_layer},
            "tracing_on_": {"PYTHONPATH": layer, **_TRACING_ON},
        }
        probes = {
            logical_id: _probe(
                str(Path(function.code_dir) / "app.py"),
                {**base_env, **function.environment, **variants[""]},
            )
            for logical_id, function in functions.items()
        }
        clients = {logical_id: services for logical_id, (services, _) in probes.items()}
        # One second baseline per distinct set of services, in the environment of a function that has it.
        same_clients = {
            services: {**base_env, **functions[logical_id].environment}
            for logical_id, services in clients.items()
        }
        samples: dict[str, list[tuple[float, float, float]]] = {"baseline_boto3_client": []}
        for _ in range(RUNS):  # interleaved, so machine noise spreads over every subject alike
            samples["baseline_boto3_client"].append(_sample(_BASELINE, baseline_env))
            for services, env in same_clients.items():
                samples.setdefault(same_clients_key(services), []).append(
                    _sample(_SAME_CLIENTS.format(services=list(services)), env)
                )
            for logical_id, function in functions.items():
                services, modules = probes[logical_id]
                samples.setdefault("library_floor_" + logical_id, []).append(
                    _sample(
                        _LIBRARY_FLOOR.format(modules=modules, services=list(services)),
                        {**base_env, **function.environment, **variants[""]},
                    )
                )
                path = str(Path(function.code_dir) / "app.py")
                for prefix, extra in variants.items():
                    env = {**base_env, **function.environment, **extra}
                    samples.setdefault(prefix + logical_id, []).append(
                        _sample(_HANDLER.format(path=path), env)
                    )
    results = {name: statistics.median(s[0] for s in values) for name, values in samples.items()}
    report(list(functions), clients, samples, results)
    if "--json" in sys.argv:
        print(json.dumps(results))
    return 0


def report(
    functions: list[str],
    clients: dict[str, tuple[str, ...]],
    samples: dict[str, list[tuple[float, float, float]]],
    results: dict[str, float],
) -> None:
    wall = {name: statistics.median(s[1] for s in values) for name, values in samples.items()}
    primed = {name: statistics.median(s[2] for s in values) for name, values in samples.items()}
    baseline = results["baseline_boto3_client"]
    print(f"cold_init.runs: {RUNS}")
    print(f"cold_init.baseline_boto3_client.median_ms: {baseline:.1f}")
    print(f"cold_init.baseline_boto3_client.wall_median_ms: {wall['baseline_boto3_client']:.1f}")
    for logical_id in functions:
        handler = results[logical_id]
        print(f"cold_init.{logical_id}.median_ms: {handler:.1f}")
        print(f"cold_init.{logical_id}.ratio_to_baseline: {handler / baseline:.2f}")
        print(f"cold_init.{logical_id}.wall_median_ms: {wall[logical_id]:.1f}")
        wall_ratio = wall[logical_id] / wall["baseline_boto3_client"]
        print(f"cold_init.{logical_id}.wall_ratio_to_baseline: {wall_ratio:.2f}")
        source = results["source_layer_" + logical_id]
        print(f"cold_init.{logical_id}.source_layer_median_ms: {source:.1f}")
        print(f"cold_init.{logical_id}.source_layer_ratio_to_baseline: {source / baseline:.2f}")
        traced = results["tracing_on_" + logical_id]
        print(f"cold_init.{logical_id}.tracing_on_median_ms: {traced:.1f}")
        print(f"cold_init.{logical_id}.tracing_on_ratio_to_baseline: {traced / baseline:.2f}")
        print(f"cold_init.{logical_id}.tracing_on_extra_ms: {traced - handler:.1f}")
        print(f"cold_init.{logical_id}.primed_ms: {primed[logical_id]:.1f}")
        # The second comparison: against boto3 and this function's own clients (same services).
        same = results[same_clients_key(clients[logical_id])]
        print(f"cold_init.{logical_id}.same_clients: {','.join(clients[logical_id])}")
        print(f"cold_init.{logical_id}.same_clients_baseline_median_ms: {same:.1f}")
        print(f"cold_init.{logical_id}.ratio_to_same_clients: {handler / same:.2f}")
        print(f"cold_init.{logical_id}.over_same_clients_ms: {handler - same:.1f}")
        # The third: the same libraries and clients without our code.
        floor = results["library_floor_" + logical_id]
        print(f"cold_init.{logical_id}.library_floor_median_ms: {floor:.1f}")
        print(f"cold_init.{logical_id}.library_floor_ratio_to_baseline: {floor / baseline:.2f}")
        print(f"cold_init.{logical_id}.own_code_ms: {handler - floor:.1f}")
    worst = max(results[lid] / baseline for lid in functions)
    print(f"cold_init.worst_ratio_to_baseline: {worst:.2f}")
    print(f"cold_init.target_ratio_met: {str(worst <= 1.5).lower()}")
    worst_same = max(results[lid] / results[same_clients_key(clients[lid])] for lid in functions)
    print(f"cold_init.worst_ratio_to_same_clients: {worst_same:.2f}")
    worst_floor = max(results["library_floor_" + lid] / baseline for lid in functions)
    print(f"cold_init.worst_library_floor_ratio_to_baseline: {worst_floor:.2f}")
    print(f"cold_init.target_reachable_with_these_libraries: {str(worst_floor <= 1.5).lower()}")
    print(f"cold_init.snapstart: {SNAPSTART_NOTE}")


if __name__ == "__main__":
    raise SystemExit(main())
