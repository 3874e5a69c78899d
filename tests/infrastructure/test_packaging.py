"""The project's three packages come from `pip install -e .` alone: importable from any directory, with
no path file or PYTHONPATH putting layers/common on sys.path (pytest's own `pythonpath` would hide that, so
every check runs in a fresh interpreter outside the checkout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "execution_core": ROOT / "layers" / "common" / "execution_core",
    "execctl": ROOT / "execctl",
    "local_runtime": ROOT / "local_runtime",
}
PROBE = (
    "import importlib, json, sys; "
    f"names = {sorted(PACKAGES)!r}; "
    "print(json.dumps({'files': {n: importlib.import_module(n).__file__ for n in names}, 'path': sys.path}))"
)


def _outside_the_checkout(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(  # noqa: S603 - this interpreter or its own console scripts, fixed arguments
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_packages_import_from_the_editable_install_alone(tmp_path: Path) -> None:
    result = _outside_the_checkout(tmp_path, sys.executable, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert {name: Path(file).parent for name, file in probe["files"].items()} == PACKAGES
    roots = {ROOT, ROOT / "layers" / "common"}
    on_path = [entry for entry in probe["path"] if entry and Path(entry).resolve() in roots]
    assert not on_path, f"a path entry, not the declared packages, makes them importable: {on_path}"


@pytest.mark.parametrize("command", [["execctl", "--help"], ["exec-local", "--help"]])
def test_the_console_scripts_run_outside_the_checkout(tmp_path: Path, command: list[str]) -> None:
    script = Path(sys.executable).parent / command[0]
    result = _outside_the_checkout(tmp_path, str(script), *command[1:])
    assert result.returncode == 0, result.stderr
    assert f"usage: {command[0]}" in result.stdout


def test_python_dash_m_execctl_is_the_operator_cli(tmp_path: Path) -> None:
    result = _outside_the_checkout(tmp_path, sys.executable, "-m", "execctl", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: execctl" in result.stdout
