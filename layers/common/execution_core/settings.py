"""Environment configuration, validated once per container by the handler that needs it.

Each handler composes exactly the field sets it uses (``class Settings(ActionIntentsTable, Stage)``) and
calls ``load_settings`` at module scope. Nothing here is cached: the local runtime runs several functions
in one process, each with its own environment.
"""

import os
from collections.abc import Mapping
from typing import Annotated, Any, cast

import pydantic
from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from execution_core.errors import ConfigurationError

TableName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")]
BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
EventBusName = Annotated[str, Field(pattern=r"^[A-Za-z0-9/_.:-]{1,1600}$")]
EventSource = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,256}$")]


class ComponentSettings(BaseSettings):
    """Base of every settings class: field ``foo_bar`` is read from the variable ``FOO_BAR``."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        env_ignore_empty=True,  # an empty variable is reported as missing, not as a blank table name
        extra="ignore",
        frozen=True,
    )


class Stage(ComponentSettings):
    stage: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")]


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


def load_settings[S: ComponentSettings](
    cls: type[S], component: str, environ: Mapping[str, str] | None = None
) -> S:
    """Build ``cls`` from the environment (or ``environ``), naming every bad variable but no value.

    ``environ`` lets the local runtime pass a function's own environment without touching os.environ.
    """
    try:
        if environ is None:
            return cls()
        wanted = {name.upper(): name for name in cls.model_fields}
        values: dict[str, Any] = {
            wanted[key.upper()]: value for key, value in environ.items() if key.upper() in wanted and value
        }
        return _without_process_env(cls)(**values)
    except pydantic.ValidationError as exc:
        raise ConfigurationError(_describe(component, exc)) from None


def _init_only(
    owner: type[BaseSettings],
    settings_cls: type[BaseSettings],
    /,
    *,
    init_settings: PydanticBaseSettingsSource,
    **other_sources: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    return (init_settings,)


def _without_process_env[S: ComponentSettings](cls: type[S]) -> type[S]:
    # A subclass that reads only its keyword arguments, so os.environ cannot fill in what environ lacks.
    attrs = {"settings_customise_sources": classmethod(_init_only), "__module__": cls.__module__}
    return cast(type[S], type(cls.__name__, (cls,), attrs))


def _describe(component: str, exc: pydantic.ValidationError) -> str:
    missing: list[str] = []
    invalid: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        name = str(error["loc"][0]).upper() if error["loc"] else "?"
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
