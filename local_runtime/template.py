"""Reads template.yaml, the single source of truth for every resource the local runtime creates.

The SAM template is transformed offline with the SAM translator (so Globals, policy templates and
implicit resources are exactly what CloudFormation would receive), then the runtime resolves the few
intrinsic functions it needs against the physical names of the resources it created.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

# Offline there is no feature-toggle configuration to fetch: the translator warns that each feature it asks
# about (e.g. OpenApiVersion's normalization) is "not available", once per translation, on stderr. The
# translation itself is unaffected; keep that noise out of every command's output.
logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

_LOCAL_CODE_BUCKET = "local-runtime-code"


class TemplateError(RuntimeError):
    """The template cannot be read, transformed or resolved."""


class _TemplateLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no type stubs here
    """YAML with CloudFormation's short-form tags, as the CloudFormation YAML parser reads them.

    Written here rather than taken from cfn-lint (``cfnlint.decode``): importing cfn-lint pulls in sympy
    and its rule set, about a second of start-up in every ``exec-local`` process, for a dozen lines of
    tag mapping. tests/local_runtime/test_template_loader.py checks both read our templates identically.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping that names a key twice is an error (PyYAML would keep the last one silently)."""
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a list or mapping as a key: PyYAML refuses it as unhashable below
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=True)
        return mapping


def _short_form(loader: _TemplateLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    """``!Ref x`` → ``{"Ref": x}``, ``!Condition c`` → ``{"Condition": c}``, ``!GetAtt a.b`` →
    ``{"Fn::GetAtt": ["a", "b"]}``, any other ``!Name v`` → ``{"Fn::Name": v}``."""
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - PyYAML has no other node kind
        raise yaml.constructor.ConstructorError(None, None, f"unexpected !{suffix}", node.start_mark)
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _short_form)
_TemplateLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _TemplateLoader.construct_mapping
)


def load_raw_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse the YAML template, including CloudFormation short-form tags (!Ref, !Sub, ...)."""
    try:
        template = yaml.load(path.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"cannot parse {path}: {error}") from error
    if not isinstance(template, dict):
        raise TemplateError(f"cannot parse {path}: not a mapping at the top level")
    return template


@dataclass(frozen=True)
class LocalArtifacts:
    """Local paths of code that `sam build` would package (functions, layers, ASL files)."""

    code_dirs: dict[str, Path] = field(default_factory=dict)
    definition_files: dict[str, Path] = field(default_factory=dict)


def _replace_local_uris(template: dict[str, Any], root: Path) -> LocalArtifacts:
    """Swap local CodeUri/ContentUri/DefinitionUri for S3 URIs the translator accepts, remembering paths."""
    code_dirs: dict[str, Path] = {}
    definitions: dict[str, Path] = {}
    function_globals = template.get("Globals", {}).get("Function", {})
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.setdefault("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function":
            uri = props.get("CodeUri", function_globals.get("CodeUri"))
            if isinstance(uri, str) and not uri.startswith("s3://"):
                code_dirs[logical_id] = (root / uri).resolve()
                props["CodeUri"] = f"s3://{_LOCAL_CODE_BUCKET}/{logical_id}.zip"
        elif kind == "AWS::Serverless::LayerVersion":
            uri = props.get("ContentUri")
            if isinstance(uri, str) and not uri.startswith("s3://"):
                code_dirs[logical_id] = (root / uri).resolve()
                props["ContentUri"] = f"s3://{_LOCAL_CODE_BUCKET}/{logical_id}.zip"
        elif kind == "AWS::Serverless::StateMachine":
            uri = props.get("DefinitionUri")
            if isinstance(uri, str) and not uri.startswith("s3://"):
                definitions[logical_id] = (root / uri).resolve()
                props["DefinitionUri"] = f"s3://{_LOCAL_CODE_BUCKET}/{logical_id}.json"
    return LocalArtifacts(code_dirs=code_dirs, definition_files=definitions)


@dataclass(frozen=True)
class ProjectTemplate:
    """The raw template, its CloudFormation translation and the parameter values used."""

    raw: dict[str, Any]
    transformed: dict[str, Any]
    parameters: dict[str, Any]
    artifacts: LocalArtifacts

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.transformed.get("Resources", {}))

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {lid: res for lid, res in self.resources.items() if res.get("Type") == resource_type}


def parameter_values(raw: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults plus overrides; CommaDelimitedList values become lists as CloudFormation does."""
    values: dict[str, Any] = {}
    for name, spec in raw.get("Parameters", {}).items():
        if name in (overrides or {}):
            value = (overrides or {})[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            continue
        if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        values[name] = value
    unknown = set(overrides or {}) - set(raw.get("Parameters", {}))
    if unknown:
        raise TemplateError(f"unknown parameters: {', '.join(sorted(unknown))}")
    return values


def load_project_template(
    path: Path = TEMPLATE_PATH,
    parameter_overrides: Mapping[str, Any] | None = None,
    region: str = "us-east-1",
) -> ProjectTemplate:
    """Load and translate the template the way `sam build`/`sam deploy` would, but offline."""
    raw = load_raw_template(path)
    to_translate = copy.deepcopy(raw)
    artifacts = _replace_local_uris(to_translate, path.parent)
    parameters = parameter_values(raw, parameter_overrides)
    try:
        # An empty managed-policy map keeps the translation offline: the template uses SAM policy
        # templates and inline statements, never managed policy names that need IAM's catalogue.
        translator = Translator({}, Parser(), boto_session=boto3.session.Session(region_name=region))
        translated = translator.translate(to_translate, parameter_values=dict(parameters))
    except Exception as exc:  # the translator raises its own exception family; keep the detail
        raise TemplateError(f"SAM translation of {path} failed: {exc}") from exc
    return ProjectTemplate(raw=raw, transformed=translated, parameters=parameters, artifacts=artifacts)


# --------------------------------------------------------------------------------------------------
# Intrinsic functions.
#
# Written here rather than borrowed: samtranslator's IntrinsicsResolver only resolves parameters, and
# moto's CloudFormation resolver needs a deployed moto stack, which cannot hold this template
# (docs/architecture.md §5).

_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


@dataclass
class IntrinsicContext:
    """What Ref/GetAtt/Sub resolve to: parameters, pseudo parameters and created resources."""

    parameters: dict[str, Any]
    pseudo: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Ref to {name!r}, which the local runtime has not created (yet)")

    def get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not known locally") from None


def _resolve_sub(value: Any, ctx: IntrinsicContext, resolve: Callable[[Any], Any]) -> str:
    if isinstance(value, list):
        text, variables = value[0], {k: resolve(v) for k, v in value[1].items()}
    else:
        text, variables = value, {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        if "." in name and not name.startswith("AWS::"):
            logical_id, attribute = name.split(".", 1)
            return ctx.get_att(logical_id, attribute)
        resolved = ctx.ref(name)
        return ",".join(resolved) if isinstance(resolved, list) else str(resolved)

    return _SUB_VARIABLE.sub(substitute, text).replace("${!", "${")


def evaluate_condition(expression: Any, ctx: IntrinsicContext, resolve: Callable[[Any], Any]) -> bool:
    """Evaluate a Conditions entry (Fn::Equals/Not/And/Or/Condition)."""
    if isinstance(expression, dict) and len(expression) == 1:
        ((fn, args),) = expression.items()
        if fn == "Fn::Equals":
            return bool(resolve(args[0]) == resolve(args[1]))
        if fn == "Fn::Not":
            return not evaluate_condition(args[0], ctx, resolve)
        if fn == "Fn::And":
            return all(evaluate_condition(a, ctx, resolve) for a in args)
        if fn == "Fn::Or":
            return any(evaluate_condition(a, ctx, resolve) for a in args)
        if fn == "Condition":
            return ctx.conditions[args]
    raise TemplateError(f"unsupported condition expression {expression!r}")


class _NoValue:
    """AWS::NoValue: the property is removed."""


def resolve_intrinsics(value: Any, ctx: IntrinsicContext) -> Any:
    """Resolve Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, Fn::Select and Fn::Split in a value."""

    def get_att(arg: Any) -> Any:
        logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
        return ctx.get_att(logical_id, attribute)

    def if_(arg: Any) -> Any:
        condition, when_true, when_false = arg
        return resolve(when_true if ctx.conditions[condition] else when_false)

    functions: dict[str, Callable[[Any], Any]] = {
        "Ref": lambda arg: _NoValue() if arg == "AWS::NoValue" else ctx.ref(arg),
        "Fn::GetAtt": get_att,
        "Fn::Sub": lambda arg: _resolve_sub(arg, ctx, resolve),
        "Fn::Join": lambda arg: str(arg[0]).join(str(part) for part in resolve(arg[1])),
        "Fn::If": if_,
        "Fn::Select": lambda arg: resolve(arg[1])[int(resolve(arg[0]))],
        "Fn::Split": lambda arg: str(resolve(arg[1])).split(arg[0]),
    }

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [r for r in (resolve(item) for item in node) if not isinstance(r, _NoValue)]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key in functions:
                return functions[key](arg)
        resolved = {k: resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if not isinstance(v, _NoValue)}

    return resolve(value)


def references(value: Any) -> set[str]:
    """Logical ids a value refers to through Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                found |= {name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(text)}
                found |= references(arg[1] if isinstance(arg, list) else None)
            else:
                found |= references(arg)
    return found


def creation_order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Logical ids ordered so that every resource comes after the resources it references."""
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[logical_id] = (references(resource.get("Properties", {})) | explicit) & resources.keys()
    return list(TopologicalSorter(graph).static_order())


def condition_values(template: ProjectTemplate, ctx: IntrinsicContext) -> dict[str, bool]:
    """Evaluate every condition of the translated template, in declaration order."""
    results: dict[str, bool] = {}
    ctx.conditions = results
    for name, expression in template.transformed.get("Conditions", {}).items():
        results[name] = evaluate_condition(expression, ctx, lambda v: resolve_intrinsics(v, ctx))
    return results
