"""Environment configuration: the one module that reads a function's variables (ADR 0020).

Every function's settings class lives here, composed from exactly the field sets it uses (at the end of
this module); its composition root (``execution_core.wiring``) calls ``load_settings`` once per container.
No other module reads os.environ, except for the Lambda runtime's and Powertools' own variables
(``tracing.py``). Field ``foo_bar`` is read from the variable ``FOO_BAR``; a
structured field (a dict or list) from its JSON. Plain pydantic models and a small reader rather than
pydantic-settings: that package cost 20-38 ms of every cold start for the one thing used here (ADR 0014).
Nothing here is cached: the local runtime runs several functions in one process, each with its own
environment.
"""

import json
import os
import types
import typing
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import pydantic
from pydantic import ConfigDict, Field

from execution_core.errors import ConfigurationError

if TYPE_CHECKING:
    from execution_core.adapters.allowlist import OriginPattern

TableName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")]
BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
EventBusName = Annotated[str, Field(pattern=r"^[A-Za-z0-9/_.:-]{1,1600}$")]
EventSource = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,256}$")]
_STRUCTURED = (dict, list, tuple, set, frozenset)


class ComponentSettings(pydantic.BaseModel):
    """Base of every settings class: immutable, and blind to variables it does not declare.

    ``defer_build``: the field sets are only composed, so only the handler's own class is ever built
    (on its one validation), not each of its bases at import.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class ActionIntentsTable(ComponentSettings):
    action_intents_table_name: TableName


class ExecutionAttemptsTable(ComponentSettings):
    execution_attempts_table_name: TableName


class ExecutionOutcomesTable(ComponentSettings):
    execution_outcomes_table_name: TableName


class LedgerTable(ComponentSettings):
    ledger_table_name: TableName


class SignalsTable(ComponentSettings):
    signals_table_name: TableName


class TenantsTable(ComponentSettings):
    tenants_table_name: TableName


class ActionTypeRegistryTable(ComponentSettings):
    action_type_registry_table_name: TableName


class ExternalWritesTable(ComponentSettings):
    external_writes_table_name: TableName


class InternalObjectsTable(ComponentSettings):
    internal_objects_table_name: TableName


class ConnectorConfigTable(ComponentSettings):
    connector_config_table_name: TableName


class ArtifactsBucket(ComponentSettings):
    artifacts_bucket_name: BucketName


class EventBus(ComponentSettings):
    """Where outcome and signal events go, and the source they are published under."""

    event_bus_name: EventBusName
    execution_event_source: EventSource


class ObservabilitySettings(ComponentSettings):
    """Powertools' service name and metrics namespace, which the business metrics are emitted under."""

    powertools_service_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    powertools_metrics_namespace: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/#:-]{1,255}$")]


class AuthorizationSettings(TenantsTable, ExecutionAttemptsTable):
    """The tables every adapter re-authorizes against."""


def _valid_allow_list(value: str) -> str:
    # Imported here: only the CRM adapter's settings need the parser (and its ipaddress import).
    from execution_core.adapters.allowlist import parse_allowed_origins

    parse_allowed_origins(value)  # a ValueError names the variable via load_settings, never the value
    return value


class CrmSettings(ComponentSettings):
    """The CRM-specific part of the CRM adapter's environment."""

    crm_allowed_origins: Annotated[str, Field(max_length=4096), pydantic.AfterValidator(_valid_allow_list)]
    crm_secret_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_+=.@-][A-Za-z0-9/_+=.@-]{0,255}/$")]
    crm_connect_timeout_seconds: Annotated[float, Field(gt=0, le=30)]
    crm_read_timeout_seconds: Annotated[float, Field(gt=0, le=60)]
    # A write reserved longer ago than this cannot still be in flight (it outlives the function's timeout),
    # so a lookup that finds nothing proves it never happened.
    crm_settle_seconds: Annotated[int, Field(ge=60, le=3600)] = 120

    def origin_patterns(self) -> tuple["OriginPattern", ...]:
        from execution_core.adapters.allowlist import parse_allowed_origins

        return parse_allowed_origins(self.crm_allowed_origins)


class PaginationSecret(ComponentSettings):
    """The Secrets Manager secret holding the HMAC key of pagination tokens, and the tokens' lifetime."""

    pagination_secret_arn: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+$")
    ]
    pagination_token_ttl_seconds: Annotated[int, Field(ge=60, le=3600)] = 900

    @property
    def pagination_token_ttl(self) -> timedelta:
        return timedelta(seconds=self.pagination_token_ttl_seconds)


class CorsOrigins(ComponentSettings):
    """Browser origins allowed to call the API, comma separated (the AllowedOrigins parameter)."""

    cors_allowed_origins: Annotated[str, Field(min_length=1, max_length=4096)]

    @property
    def origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_allowed_origins.split(",") if origin.strip()]


# ---------------------------------------------------------------- one class per function
class PrepareExecutionSettings(
    ActionIntentsTable, ActionTypeRegistryTable, ExecutionAttemptsTable, LedgerTable, ObservabilitySettings
):
    """Everything PrepareExecutionFunction reads from its environment."""

    lease_seconds: Annotated[int, Field(ge=60, le=86_400)]
    # {"internal": "<adapter function ARN>", "crm": "..."}: the function PerformAction invokes per namespace.
    tool_adapter_functions: Annotated[dict[str, Annotated[str, Field(max_length=256)]], Field(min_length=1)]


class InternalAdapterSettings(
    InternalObjectsTable, AuthorizationSettings, ArtifactsBucket, ObservabilitySettings
):
    """Everything InternalAdapterFunction reads from its environment."""


class CrmAdapterSettings(
    ConnectorConfigTable,
    ExternalWritesTable,
    AuthorizationSettings,
    ArtifactsBucket,
    CrmSettings,
    ObservabilitySettings,
):
    """Everything CrmAdapterFunction reads from its environment."""


class RecorderSettings(
    ActionIntentsTable,
    ExecutionAttemptsTable,
    ExecutionOutcomesTable,
    LedgerTable,
    SignalsTable,
    InternalObjectsTable,
    ExternalWritesTable,
    ObservabilitySettings,
):
    """Both recorders' and the reconciler's environment (their template entries are identical)."""


class OutcomePublisherSettings(EventBus, ObservabilitySettings):
    """Everything OutcomePublisherFunction reads from its environment."""


class StatusApiSettings(
    ActionIntentsTable,
    ExecutionAttemptsTable,
    ExecutionOutcomesTable,
    TenantsTable,
    LedgerTable,
    PaginationSecret,
    CorsOrigins,
):
    """Everything ExecutionStatusApiFunction reads from its environment."""


def load_settings[S: ComponentSettings](
    cls: type[S], component: str, environ: Mapping[str, str] | None = None
) -> S:
    """Build ``cls`` from the environment (or ``environ``), naming every bad variable but no value.

    ``environ`` lets the local runtime pass a function's own environment without touching os.environ;
    an empty variable counts as missing, not as a blank table name.
    """
    present = {
        key.upper(): value for key, value in (os.environ if environ is None else environ).items() if value
    }
    values: dict[str, Any] = {}
    undecodable: list[str] = []
    for name, field in cls.model_fields.items():
        raw = present.get(name.upper())
        if raw is None:
            continue
        if _is_structured(field.annotation):
            try:
                values[name] = json.loads(raw)
            except ValueError:
                undecodable.append(name.upper())
            continue
        values[name] = raw
    try:
        settings = cls.model_validate(values)
    except pydantic.ValidationError as exc:
        raise ConfigurationError(_describe(component, exc, undecodable)) from None
    if undecodable:
        raise ConfigurationError(_describe(component, None, undecodable))
    return settings


def _is_structured(annotation: Any) -> bool:
    """Whether a field's value arrives as JSON: a dict, list, set or tuple, alone or in a union."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_structured(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    return (origin or annotation) in _STRUCTURED


def _describe(component: str, exc: pydantic.ValidationError | None, undecodable: list[str]) -> str:
    missing: list[str] = []
    invalid: list[str] = list(undecodable)
    for error in exc.errors(include_input=False, include_url=False) if exc else []:
        name = str(error["loc"][0]).upper() if error["loc"] else "?"
        if name not in undecodable:  # left out of the values because it was not JSON: reported as invalid
            (missing if error["type"] == "missing" else invalid).append(name)
    parts = [f"missing required environment variable {name}" for name in sorted(set(missing))]
    parts += [f"invalid environment variable {name}" for name in sorted(set(invalid))]
    return f"{component}: " + "; ".join(parts)


def aws_region(environ: Mapping[str, str] | None = None) -> str:
    """The region the runtime runs in; not a deploy-time setting, so its absence means a broken runtime."""
    region = (os.environ if environ is None else environ).get("AWS_REGION", "")
    if not region:
        raise ConfigurationError(
            "AWS_REGION is not set; the Lambda runtime sets it, so this code is running outside Lambda "
            "or the local runtime without a region configured"
        )
    return region
