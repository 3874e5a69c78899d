"""samconfig.toml: dev, staging and prod each name every value a real stage needs; staging and prod never
point at localhost, and their placeholders cannot deploy unreplaced (the template's patterns refuse them)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from local_runtime.template import load_raw_template
from tests.support.samconfig import ENVIRONMENTS, PLACEHOLDER, overrides


def accepts(parameter: dict[str, Any], value: str) -> bool:
    """What CloudFormation checks before it changes anything: AllowedValues, AllowedPattern per item."""
    if "AllowedValues" in parameter and value not in [str(v) for v in parameter["AllowedValues"]]:
        return False
    pattern = parameter.get("AllowedPattern")
    items = value.split(",") if parameter["Type"] == "CommaDelimitedList" else [value]
    return pattern is None or all(re.fullmatch(pattern, item) for item in items)


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
def test_each_environment_names_known_parameters_for_its_stage(environment: str) -> None:
    parameters = load_raw_template()["Parameters"]
    values = overrides(environment)
    assert values["Stage"] == ENVIRONMENTS[environment]
    assert set(values) <= set(parameters)
    for name, value in values.items():
        if PLACEHOLDER in value:  # must be replaced: the template refuses it as it stands
            assert not accepts(parameters[name], value), f"{environment}: {name} placeholder would deploy"
        else:
            assert accepts(parameters[name], value), f"{environment}: {name}={value!r} is refused"


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_staging_and_prod_never_allow_localhost_and_always_alert_someone(environment: str) -> None:
    values = overrides(environment)
    assert not [v for v in values.values() if "localhost" in v or "127.0.0.1" in v]
    assert values["AlarmEmail"]  # a topic with no subscriber alerts nobody
    assert values["AdminPasswordAuth"] == "disabled"
    assert int(values["AdapterReservedConcurrency"]) > 0
    assert "AllowedOrigins" in values


def test_the_placeholders_pattern_does_not_refuse_real_values() -> None:
    parameters = load_raw_template()["Parameters"]
    assert accepts(parameters["AllowedOrigins"], "https://console.acme.example,http://localhost:5173")
    assert accepts(parameters["AlarmEmail"], "oncall@acme.example")
    assert accepts(parameters["AlarmEmail"], "")
    assert not accepts(parameters["AllowedOrigins"], "https://console.acme.example/path")


@pytest.mark.parametrize(
    ("environment", "expected"), [("default", "Disabled"), ("staging", "Enabled"), ("prod", "Enabled")]
)
def test_snapstart_is_off_in_dev_and_on_in_staging_and_prod(environment: str, expected: str) -> None:
    # dev publishes often (each published version is a billed snapshot); staging and prod run what users hit.
    assert overrides(environment)["SnapStart"] == expected
