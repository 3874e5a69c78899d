"""The dead-code gate of the shipped code (the layer and the handlers): vulture, run by `make lint`.

vulture reads the layer, the handlers, the operator CLI and the local runtime, so a symbol is used when any
of that code uses it. Tests are not read: a symbol only tests call is dead in Lambda, and a test should go
through the path production takes instead. Findings are reported only for the shipped code.

Confidence 60 is vulture's lowest and the only level at which it reports unused functions, methods,
classes, properties and attributes at all (80 and up report only imports and unreachable code, which ruff
already covers). At 60 it also reports every pydantic field and enum member, which are the wire and table
format (written by model_dump, read by model_validate, never by attribute name): names bound in a class body
are therefore skipped, as are methods that a decorator registers (validators, the status API's routes).
Every other allowed name is in tools/dead_code_whitelist.txt with its reason; an entry that no longer
matches a finding fails the gate too, so the list only shrinks.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from vulture import Vulture
from vulture.core import Item

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = (ROOT / "layers" / "common" / "execution_core", ROOT / "functions")
READ = (*SHIPPED, ROOT / "execctl", ROOT / "local_runtime")
WHITELIST = ROOT / "tools" / "dead_code_whitelist.txt"
MIN_CONFIDENCE = 60
# Decorators that register the function they decorate: the framework calls it, the code never names it.
REGISTERING_DECORATORS = ["@model_validator", "@field_validator", "@app.get", "@app.post"]


def load_whitelist(path: Path = WHITELIST) -> dict[str, str]:
    """``name: reason`` lines (``#`` comments and blank lines aside); a name without a reason is an error."""
    entries: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(":")
        if not name.strip().isidentifier() or not reason.strip():
            raise ValueError(f"{path.name}:{number}: expected `name: reason`, got {raw!r}")
        entries[name.strip()] = reason.strip()
    return entries


def _class_body_lines(path: Path) -> set[int]:
    """Lines of the statements directly in a class body that bind a name (fields, members, model_config)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        statement.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for statement in node.body
        if isinstance(statement, ast.Assign | ast.AnnAssign)
    }


def findings(paths: Iterable[Path] = READ, shipped: Iterable[Path] = SHIPPED) -> list[Item]:
    """Unused code under ``shipped`` (uses anywhere in ``paths`` count), class-body bindings aside, the
    whitelist not applied."""
    roots = [root.resolve() for root in shipped]
    vulture = Vulture(ignore_decorators=REGISTERING_DECORATORS)
    vulture.scavenge([str(path) for path in paths])
    class_lines: dict[Path, set[int]] = {}
    result = []
    for item in vulture.get_unused_code(min_confidence=MIN_CONFIDENCE):
        if not any(root in Path(item.filename).resolve().parents for root in roots):
            continue
        path = Path(item.filename)
        if item.typ == "variable" and item.first_lineno in class_lines.setdefault(
            path, _class_body_lines(path)
        ):
            continue
        result.append(item)
    return result


def check(items: Sequence[Item], whitelist: dict[str, str]) -> list[str]:
    """What fails the gate: findings not whitelisted, and whitelist entries no finding needs."""
    problems = [item.get_report() for item in items if item.name not in whitelist]
    needed = {item.name for item in items}
    problems += [
        f"{WHITELIST.name}: {name!r} matches no finding any more: remove it"
        for name in whitelist
        if name not in needed
    ]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None).parse_args(argv)
    problems = check(findings(), load_whitelist())
    for problem in problems:
        print(problem)
    if problems:
        print(f"dead code in the shipped layer or handlers: {len(problems)} (see {Path(__file__).name})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
