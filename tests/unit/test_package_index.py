"""The lazy package indexes of execution_core.models and execution_core.repositories (PEP 562, ADR 0014):
each exported name resolves to its defining module's object, and the three lists (the type checkers'
imports, the name → module map, ``__all__``) say the same thing."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

import execution_core.models
import execution_core.repositories

PACKAGES = [execution_core.models, execution_core.repositories]


def _type_checking_imports(package: ModuleType) -> dict[str, str]:
    """name → defining module, from the ``if TYPE_CHECKING:`` block of the package's __init__."""
    tree = ast.parse(Path(str(package.__file__)).read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    )
    return {
        alias.name: str(node.module).removeprefix(package.__name__ + ".")
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_the_type_checkers_imports_the_map_and_all_agree(package: ModuleType) -> None:
    defined_in = package._DEFINED_IN
    assert _type_checking_imports(package) == defined_in
    assert sorted(package.__all__) == sorted(defined_in)


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_every_exported_name_is_its_defining_modules_object(package: ModuleType) -> None:
    for name, module in package._DEFINED_IN.items():
        defining = importlib.import_module(f"{package.__name__}.{module}")
        assert getattr(package, name) is getattr(defining, name), name


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_an_unknown_name_is_an_attribute_error(package: ModuleType) -> None:
    with pytest.raises(AttributeError, match="NoSuchName"):
        _ = package.NoSuchName
    with pytest.raises(ImportError):
        exec(f"from {package.__name__} import NoSuchName")  # noqa: S102 - a fixed import statement
