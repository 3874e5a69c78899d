"""Settings fail fast, name the variable, and never echo a value."""

from typing import Annotated

import pytest
from pydantic import Field

from execution_core.errors import ConfigurationError
from execution_core.settings import (
    ActionIntentsTable,
    ArtifactsBucket,
    ComponentSettings,
    EventBus,
    ExecutionAttemptsTable,
    aws_region,
    load_settings,
)


class Stage(ComponentSettings):
    """A field set of the tests' own, composed like the shipped ones (no function reads a stage)."""

    stage: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")]


class StarterSettings(Stage, ActionIntentsTable, ExecutionAttemptsTable):
    pass


class PublisherSettings(Stage, EventBus, ArtifactsBucket):
    pass


VALID = {
    "STAGE": "dev",
    "ACTION_INTENTS_TABLE_NAME": "stack-ActionIntentsTable-ABC123",
    "EXECUTION_ATTEMPTS_TABLE_NAME": "stack-ExecutionAttemptsTable-XYZ",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*VALID, "EVENT_BUS_NAME", "EXECUTION_EVENT_SOURCE", "ARTIFACTS_BUCKET_NAME"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_loads_from_process_environment(env: pytest.MonkeyPatch) -> None:
    for name, value in VALID.items():
        env.setenv(name, value)
    settings = load_settings(StarterSettings, "execution_starter")
    assert settings.action_intents_table_name == VALID["ACTION_INTENTS_TABLE_NAME"]
    assert settings.execution_attempts_table_name == VALID["EXECUTION_ATTEMPTS_TABLE_NAME"]
    assert settings.stage == "dev"


def test_missing_variable_is_named_in_upper_case(env: pytest.MonkeyPatch) -> None:
    env.setenv("STAGE", "dev")
    env.setenv("EXECUTION_ATTEMPTS_TABLE_NAME", "attempts-table")
    with pytest.raises(ConfigurationError) as info:
        load_settings(StarterSettings, "execution_starter")
    assert str(info.value) == (
        "execution_starter: missing required environment variable ACTION_INTENTS_TABLE_NAME"
    )


def test_every_missing_variable_is_listed(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(StarterSettings, "execution_starter")
    for name in VALID:
        assert f"missing required environment variable {name}" in str(info.value)


def test_empty_variable_counts_as_missing(env: pytest.MonkeyPatch) -> None:
    for name, value in VALID.items():
        env.setenv(name, value)
    env.setenv("ACTION_INTENTS_TABLE_NAME", "")
    with pytest.raises(
        ConfigurationError, match="missing required environment variable ACTION_INTENTS_TABLE_NAME"
    ):
        load_settings(StarterSettings, "execution_starter")


def test_invalid_value_is_named_but_not_echoed(env: pytest.MonkeyPatch) -> None:
    secretish = "not a table name; password=hunter2"
    for name, value in VALID.items():
        env.setenv(name, value)
    env.setenv("EXECUTION_ATTEMPTS_TABLE_NAME", secretish)
    with pytest.raises(ConfigurationError) as info:
        load_settings(StarterSettings, "execution_starter")
    message = str(info.value)
    assert "invalid environment variable EXECUTION_ATTEMPTS_TABLE_NAME" in message
    assert "hunter2" not in message
    assert "not a table name" not in message
    assert info.value.__cause__ is None  # the pydantic error (which carries the input) is not chained


def test_explicit_environ_ignores_process_environment(env: pytest.MonkeyPatch) -> None:
    # The local runtime runs several functions in one process: one function's env must not leak.
    for name, value in VALID.items():
        env.setenv(name, value)
    with pytest.raises(ConfigurationError, match="ACTION_INTENTS_TABLE_NAME"):
        load_settings(StarterSettings, "fn", environ={"STAGE": "dev", "EXECUTION_ATTEMPTS_TABLE_NAME": "abc"})
    settings = load_settings(
        StarterSettings,
        "fn",
        environ={
            "STAGE": "prod",
            "ACTION_INTENTS_TABLE_NAME": "i-table",
            "EXECUTION_ATTEMPTS_TABLE_NAME": "a-t",
        },
    )
    assert (settings.stage, settings.action_intents_table_name) == ("prod", "i-table")
    assert isinstance(settings, StarterSettings)


def test_composed_settings_require_only_their_fields(env: pytest.MonkeyPatch) -> None:
    environ = {
        "STAGE": "dev",
        "EVENT_BUS_NAME": "stack-execution",
        "EXECUTION_EVENT_SOURCE": "execution.layer",
        "ARTIFACTS_BUCKET_NAME": "stack-artifacts-1",
    }
    settings = load_settings(PublisherSettings, "publisher", environ=environ)
    assert settings.event_bus_name == "stack-execution"
    assert not hasattr(settings, "action_intents_table_name")
    with pytest.raises(ConfigurationError, match="invalid environment variable ARTIFACTS_BUCKET_NAME"):
        load_settings(
            PublisherSettings, "publisher", environ=environ | {"ARTIFACTS_BUCKET_NAME": "Bad_Bucket"}
        )


def test_settings_are_immutable(env: pytest.MonkeyPatch) -> None:
    settings = load_settings(StarterSettings, "fn", environ=VALID)
    with pytest.raises(ValueError, match="frozen"):
        settings.stage = "prod"  # type: ignore[misc]


def test_aws_region_missing_has_runtime_specific_message() -> None:
    with pytest.raises(ConfigurationError, match="AWS_REGION is not set; the Lambda runtime sets it"):
        aws_region(environ={})
    assert aws_region(environ={"AWS_REGION": "eu-west-1"}) == "eu-west-1"


def test_aws_region_reads_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert aws_region() == "us-west-2"
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ConfigurationError):
        aws_region()


class AdapterMapSettings(Stage):
    tool_adapter_functions: dict[str, str]
    lease_seconds: int = 60


def test_structured_field_is_read_from_json_and_scalars_are_coerced() -> None:
    environ = {"STAGE": "dev", "TOOL_ADAPTER_FUNCTIONS": '{"crm": "arn:fn"}', "LEASE_SECONDS": "2400"}
    settings = load_settings(AdapterMapSettings, "prepare", environ=environ)
    assert settings.tool_adapter_functions == {"crm": "arn:fn"}
    assert settings.lease_seconds == 2400


def test_structured_field_that_is_not_json_is_named_once_and_not_echoed() -> None:
    environ = {"STAGE": "dev", "TOOL_ADAPTER_FUNCTIONS": "{crm: secret-ish"}
    with pytest.raises(ConfigurationError) as info:
        load_settings(AdapterMapSettings, "prepare", environ=environ)
    assert str(info.value) == "prepare: invalid environment variable TOOL_ADAPTER_FUNCTIONS"
    assert info.value.__cause__ is None


def test_structured_field_of_the_wrong_shape_is_invalid() -> None:
    environ = {"STAGE": "dev", "TOOL_ADAPTER_FUNCTIONS": '["not", "a", "map"]'}
    with pytest.raises(ConfigurationError, match="invalid environment variable TOOL_ADAPTER_FUNCTIONS"):
        load_settings(AdapterMapSettings, "prepare", environ=environ)


def test_variable_names_match_case_insensitively() -> None:
    settings = load_settings(StarterSettings, "fn", environ={k.lower(): v for k, v in VALID.items()})
    assert settings.stage == "dev"
