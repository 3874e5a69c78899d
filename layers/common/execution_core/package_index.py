"""Lazy package indexes (PEP 562): a package exports names that are imported from their defining module on
first access, so a cold start creates only what its function's code uses (ADR 0014).

``execution_core.models`` and ``execution_core.repositories`` are such indexes; this is their one resolver.
"""

import sys
from collections.abc import Callable, Mapping
from importlib import import_module


def names_to_modules(modules: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """``{module: (name, ...)}`` → ``{name: module}``."""
    return {name: module for module, names in modules.items() for name in names}


def first_access_importer(package: str, defined_in: Mapping[str, str]) -> Callable[[str], object]:
    """The package's module-level ``__getattr__``: imports ``package.<module>`` for a name on first access
    and keeps the value in the package, so the next access is a plain attribute lookup."""

    def resolve(name: str) -> object:
        module = defined_in.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # resolved once
        return value

    return resolve
