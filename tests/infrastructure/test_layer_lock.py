"""The Lambda layer's lock (layers/common/requirements.txt): hashed, complete, equal to the dev lock, and
covering every module the functions import (else a function works in tests and fails in Lambda)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

from local_runtime.template import PROJECT_ROOT

LAYER_LOCK = PROJECT_ROOT / "layers" / "common" / "requirements.txt"
DEV_LOCK = PROJECT_ROOT / "requirements" / "dev.lock"
RUNTIME_PROVIDED = {"boto3", "botocore"}  # the python3.13 Lambda runtime ships them (and their s3transfer)
# Modules of the managed runtime itself: SnapStart's runtime hooks (imported only if present, ADR 0014).
RUNTIME_MODULES = {"snapshot_restore_py"}
FUNCTION_CODE = [PROJECT_ROOT / "functions", PROJECT_ROOT / "layers" / "common" / "execution_core"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    pins = {}
    for raw in text.splitlines():
        entry = raw.split("#", 1)[0].strip()
        if entry:
            name, version = entry.split()[0].split("==")
            pins[_canonical(name)] = version
    return pins


def test_every_pin_of_the_layer_is_exact_and_hashed() -> None:
    text = re.sub(r"\\\n", " ", LAYER_LOCK.read_text(encoding="utf-8"))
    entries = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    entries = [e for e in entries if e]
    assert len(entries) >= 10
    for entry in entries:
        assert re.match(r"^[A-Za-z0-9._-]+==[0-9][^ ]* ", entry), entry
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"no hash: {entry}"


def test_the_layer_runs_what_the_tests_run() -> None:
    dev = _pins(DEV_LOCK)
    for name, version in _pins(LAYER_LOCK).items():
        assert dev.get(name) == version, f"{name}: layer {version}, dev lock {dev.get(name)}"


def test_the_layer_lock_holds_every_transitive_dependency() -> None:
    locked = set(_pins(LAYER_LOCK))
    environment = {"python_version": "3.13", "python_full_version": "3.13.0", "sys_platform": "linux"}
    environment |= {"platform_system": "Linux", "platform_machine": "aarch64", "extra": ""}
    for name in locked:
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue  # an extra, or another platform's
            needed = _canonical(requirement.name)
            assert needed in locked | RUNTIME_PROVIDED, f"{name} needs {needed}, which the layer lacks"


def _imported_modules() -> dict[str, set[Path]]:
    found: dict[str, set[Path]] = {}
    for root in FUNCTION_CODE:
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    found.setdefault(name.split(".", 1)[0], set()).add(path.relative_to(PROJECT_ROOT))
    return found


def test_no_function_imports_a_module_the_layer_does_not_ship() -> None:
    """Stdlib, the runtime's boto3/botocore, the project's own package, or a module of a locked dist."""
    shipped = {"execution_core", *RUNTIME_PROVIDED, *RUNTIME_MODULES}
    by_distribution = importlib.metadata.packages_distributions()
    locked = set(_pins(LAYER_LOCK))
    shipped |= {
        module for module, dists in by_distribution.items() if {_canonical(d) for d in dists} & locked
    }
    imported = _imported_modules()
    assert {"urllib3", "pydantic", "aws_lambda_powertools"} <= set(imported)  # the scan sees real imports
    missing = {
        module: sorted(str(p) for p in paths)
        for module, paths in imported.items()
        if module not in sys.stdlib_module_names and module not in shipped
    }
    assert missing == {}
