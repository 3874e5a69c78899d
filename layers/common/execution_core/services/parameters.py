"""Maps an intent's approved parameters onto the tool's parameters through the pinned registry entry."""

from collections.abc import Mapping
from datetime import date

from pydantic import JsonValue

from execution_core.errors import InvalidInputError, MissingRequiredParameterError
from execution_core.models.registry import ParameterMapping, Transform


def _apply(name: str, transform: Transform, value: JsonValue) -> JsonValue:
    if transform is Transform.IDENTITY:
        return value
    if not isinstance(value, str):
        raise InvalidInputError(f"parameter {name} must be a string for transform {transform.value}")
    if transform is Transform.UPPER:
        return value.upper()
    if transform is Transform.LOWER:
        return value.lower()
    if transform is Transform.TRIM:
        return value.strip()
    try:  # Transform.ISO_DATE
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        raise InvalidInputError(f"parameter {name} is not an ISO date") from None


def map_parameters(
    mapping: Mapping[str, ParameterMapping], parameters: Mapping[str, JsonValue]
) -> dict[str, JsonValue]:
    """Apply the mapping exactly; parameters the registry does not know are refused, not dropped.

    Execution fulfils what was approved and never guesses: an unmapped parameter means the intent and
    its pinned registry version disagree, which is a validation failure.
    """
    unknown = sorted(set(parameters) - set(mapping))
    if unknown:
        raise InvalidInputError(f"parameters not in the registry mapping: {', '.join(unknown)[:120]}")
    missing = sorted(
        name
        for name, rule in mapping.items()
        if rule.required and (parameters.get(name) is None or parameters.get(name) == "")
    )
    if missing:
        raise MissingRequiredParameterError(f"missing required parameters: {', '.join(missing)[:120]}")
    tool_parameters: dict[str, JsonValue] = {}
    for name, rule in mapping.items():
        if parameters.get(name) is None:
            continue
        value = _apply(name, rule.transform, parameters[name])
        if rule.required and value == "":
            raise MissingRequiredParameterError(f"missing required parameters: {name}")
        tool_parameters[rule.tool_param] = value
    return tool_parameters
