"""One composition root per function and one settings module (ADR 0020), checked on the source and the
template: handlers build only through their root, services and repositories receive what they use, and
every variable a function's template environment sets is read by execution_core.settings."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from execution_core import settings as settings_module
from local_runtime.template import PROJECT_ROOT, load_raw_template

LAYER = PROJECT_ROOT / "layers" / "common" / "execution_core"
FUNCTIONS = PROJECT_ROOT / "functions"
HANDLERS = sorted(FUNCTIONS.glob("*/app.py"))
# Code that receives its clients and settings: it never builds a client nor reads the environment.
RECEIVERS = ("services", "repositories", "adapters")
# Data types and exceptions, not clients: what a receiver may take from the SDK.
SDK_DATA_MODULES = {"boto3.dynamodb.types", "boto3.dynamodb.conditions", "botocore.exceptions"}
# What only a composition root (or the settings module) may reach for.
WIRING_ONLY = {"boto3", "botocore", "execution_core.aws", "execution_core.settings", "execution_core.wiring"}
# Variables read by the Lambda runtime, Powertools, pydantic or boto3 themselves, never by our settings.
RUNTIME_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_LOGGER_LOG_EVENT",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
    "POWERTOOLS_TRACER_CAPTURE_ERROR",
    "POWERTOOLS_TRACE_DISABLED",
    "PYDANTIC_DISABLE_PLUGINS",
    "LAMBDA_TASK_ROOT",
    "AWS_SAM_LOCAL",
    "AWS_CHALICE_CLI_MODE",
    "AWS_REGION",
}
# Set for whoever reads a function's configuration (console, logs of a deployment), read by no code.
UNREAD_BY_DESIGN = {"STAGE"}
# Modules other than the settings module that read the environment, and the only variables they read.
ENVIRONMENT_READERS = {LAYER / "tracing.py": RUNTIME_VARIABLES}
# Built by a root and handed to the handler (the decorators need them at module scope).
BUILT_BY_THE_ROOT = {"aws_lambda_powertools.Logger", "aws_lambda_powertools.Tracer", "execution_core.tracing"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_modules(tree: ast.AST) -> Iterator[str]:
    """Every module an import names, with ``from x import y`` also giving ``x.y`` (y may be a module)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _within(module: str, packages: set[str]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def client_or_environment_uses(tree: ast.AST) -> list[str]:
    """What a receiver must not do: import the SDK's clients or a root's tools, or read os.environ."""
    found = [
        f"imports {module}"
        for module in _imported_modules(tree)
        if _within(module, WIRING_ONLY)
        and not _within(module, SDK_DATA_MODULES)
        and module not in {"execution_core.settings." + name for name in _settings_classes()}
        and module != "execution_core.settings"
    ]
    found += [f"reads the environment ({use})" for use in _environment_reads(tree)]
    return found


def _settings_classes() -> set[str]:
    """A receiver may name a settings class as a type (it is handed an instance), never load one."""
    return {
        name
        for name, value in vars(settings_module).items()
        if isinstance(value, type) and issubclass(value, settings_module.ComponentSettings)
    }


def _environment_reads(tree: ast.AST) -> list[str]:
    reads: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
            reads.append(f"os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            reads += [f"os.{a.name}" for a in node.names if a.name in {"environ", "getenv", "environb"}]
        elif isinstance(node, ast.Name) and node.id == "load_settings":
            reads.append("load_settings")
    return reads


def _root_module(handler: Path) -> str:
    return f"execution_core.wiring.{handler.parent.name}"


def handler_wiring_problems(tree: ast.Module, root_module: str) -> list[str]:
    """A handler imports ``build`` from its own root, calls it once at module scope, builds nothing else."""
    problems = [
        f"imports {module}"
        for module in _imported_modules(tree)
        if (_within(module, WIRING_ONLY) and not _within(module, {root_module}))
        or _within(module, {"execution_core.repositories", "os"})
        or module in BUILT_BY_THE_ROOT
    ]
    if f"{root_module}.build" not in set(_imported_modules(tree)):
        problems.append(f"does not import build from {root_module}")
    builds = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "build"
    ]
    all_calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "build"
    ]
    if len(builds) != 1 or len(all_calls) != 1:
        problems.append(f"calls build() {len(all_calls)} times ({len(builds)} at module scope), not once")
    problems += [f"reads the environment ({use})" for use in _environment_reads(tree)]
    return problems


def _settings_class_of(root_module: str) -> type[settings_module.ComponentSettings]:
    """The class the root passes to ``load_settings`` (itself, or through the shared recorder root it
    builds on): it must live in execution_core.settings."""
    path = LAYER / "wiring" / f"{root_module.rsplit('.', 1)[1]}.py"
    loads = _settings_loaded(path)
    if not loads and "execution_core.wiring.recorder" in set(_imported_modules(_tree(path))):
        loads = _settings_loaded(LAYER / "wiring" / "recorder.py")
    assert len(loads) == 1, (root_module, loads)
    cls = getattr(settings_module, loads[0], None)
    assert isinstance(cls, type), f"{root_module} loads {loads[0]}, which is not in execution_core.settings"
    assert cls.__module__ == "execution_core.settings", (root_module, cls.__module__)
    return cls


def _settings_loaded(path: Path) -> list[str]:
    return [
        node.args[0].id
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "load_settings"
        and node.args
        and isinstance(node.args[0], ast.Name)
    ]


def _template_functions() -> dict[str, dict[str, Any]]:
    """Function directory → the variables its template environment sets (Globals included)."""
    raw = load_raw_template()
    shared = raw["Globals"]["Function"]["Environment"]["Variables"]
    functions = {}
    for resource in raw["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        directory = Path(properties["CodeUri"]).name
        own = properties.get("Environment", {}).get("Variables", {})
        functions[directory] = {**shared, **own}
    return functions


# ---------------------------------------------------------------- the rules
@pytest.mark.parametrize(
    "path",
    sorted(p for package in RECEIVERS for p in (LAYER / package).rglob("*.py")),
    ids=lambda p: str(p.relative_to(LAYER)),
)
def test_services_repositories_and_adapters_receive_their_clients_and_settings(path: Path) -> None:
    assert client_or_environment_uses(_tree(path)) == []


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_every_handler_builds_only_through_its_composition_root(handler: Path) -> None:
    assert (LAYER / "wiring" / f"{handler.parent.name}.py").is_file()
    assert handler_wiring_problems(_tree(handler), _root_module(handler)) == []


def test_every_function_of_the_template_has_a_handler_and_a_root() -> None:
    assert sorted(_template_functions()) == [handler.parent.name for handler in HANDLERS]
    roots = {p.stem for p in (LAYER / "wiring").glob("*.py")} - {"__init__"}
    shared = roots - {handler.parent.name for handler in HANDLERS}
    assert shared == {"recorder"}  # the one piece of wiring three roots share (the outcome recorder)


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_every_variable_the_template_sets_is_read_by_the_settings_module(handler: Path) -> None:
    variables = set(_template_functions()[handler.parent.name])
    cls = _settings_class_of(_root_module(handler))
    fields = {name.upper(): field for name, field in cls.model_fields.items()}
    assert variables - set(fields) - RUNTIME_VARIABLES - UNREAD_BY_DESIGN == set()
    required = {name for name, field in fields.items() if field.is_required()}
    assert required - variables == set()  # nothing the function needs is left unset by the template


def test_only_the_settings_module_reads_the_environment() -> None:
    shipped = [*LAYER.rglob("*.py"), *HANDLERS]
    readers = {
        path for path in shipped if path != LAYER / "settings.py" and _environment_reads_os(_tree(path))
    }
    assert readers == set(ENVIRONMENT_READERS)
    for path, allowed in ENVIRONMENT_READERS.items():
        assert _string_keys_read(_tree(path)) <= allowed, path


def _environment_reads_os(tree: ast.AST) -> bool:
    return any(use.startswith("os.") for use in _environment_reads(tree))


def _string_keys_read(tree: ast.AST) -> set[str]:
    """The literal names a module looks up with ``.get("NAME", ...)`` or ``[...]["NAME"]``."""
    keys: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                keys.add(first.value)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
            and node.slice.value.isupper()
        ):
            keys.add(node.slice.value)
    return keys


# ---------------------------------------------------------------- the checks can fail
@pytest.mark.parametrize(
    "source",
    [
        "import boto3",
        "from boto3 import client",
        "from execution_core.aws import aws_client",
        "import os\nos.environ['TABLE']",
        "from os import getenv",
        "from execution_core.settings import load_settings",
        "from execution_core.wiring.recorder import build_outcome_recorder",
    ],
)
def test_a_receiver_that_builds_a_client_or_reads_the_environment_is_caught(source: str) -> None:
    assert client_or_environment_uses(ast.parse(source)) != []


def test_a_receiver_may_name_sdk_data_types_and_settings_classes() -> None:
    source = (
        "from boto3.dynamodb.types import TypeDeserializer\n"
        "from botocore.exceptions import ClientError\n"
        "from execution_core.settings import AuthorizationSettings\n"
    )
    assert client_or_environment_uses(ast.parse(source)) == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("from execution_core.wiring.x import build\n", "calls build() 0 times"),
        ("from execution_core.wiring.x import build\nroot = build()\nother = build()\n", "calls build() 2"),
        ("from execution_core.wiring.y import build\nroot = build()\n", "does not import build"),
        ("from execution_core.wiring.x import build\nimport boto3\nroot = build()\n", "imports boto3"),
        (
            "from execution_core.wiring.x import build\nroot = build()\n"
            "from execution_core.repositories.tenants import TenantRepository\n",
            "imports execution_core.repositories.tenants",
        ),
        ("from execution_core.wiring.x import build\nfrom aws_lambda_powertools import Logger\n", "Logger"),
    ],
)
def test_a_handler_that_wires_inline_is_caught(source: str, problem: str) -> None:
    problems = handler_wiring_problems(ast.parse(source), "execution_core.wiring.x")
    assert any(problem in p for p in problems), problems
