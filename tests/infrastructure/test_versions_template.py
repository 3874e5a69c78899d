"""Versions and aliases (ADR 0013), checked on what the SAM translator really emits for each environment:
every function has a `live` alias at its published version, everything that invokes a function invokes that
alias, and the status API shifts traffic with a canary its 5XX alarm rolls back."""

from __future__ import annotations

import re
from typing import Any

import pytest

from execution_core.contracts import LIVE_ALIAS
from local_runtime.template import load_project_template, load_raw_template, references
from tests.support.samconfig import ENVIRONMENTS, filled

# What may name a function unqualified: its own version and alias, and metric dimensions (a FunctionName
# dimension aggregates every version and alias, so the alarms and the dashboard see the live code).
UNQUALIFIED_ALLOWED = {"AWS::Lambda::Version", "AWS::Lambda::Alias", "AWS::CloudWatch::Alarm"}
UNQUALIFIED_ALLOWED |= {"AWS::CloudWatch::Dashboard"}
PIPELINE = {
    "PrepareExecutionFunction",
    "InternalAdapterFunction",
    "CrmAdapterFunction",
    "ExecutionRecorderFunction",
    "ExecutionFailureRecorderFunction",
    "OutcomePublisherFunction",
    "ReconcilerFunction",
}


@pytest.fixture(scope="module", params=sorted(ENVIRONMENTS))
def translated(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(load_project_template(parameter_overrides=filled(request.param)).resources)


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: r for k, r in resources.items() if r["Type"] == kind}


def _aliases(resources: dict[str, Any]) -> dict[str, str]:
    """Alias logical id → the function it belongs to."""
    return {
        k: a["Properties"]["FunctionName"]["Ref"]
        for k, a in _of_type(resources, "AWS::Lambda::Alias").items()
    }


def _alias_refs(value: Any, resources: dict[str, Any]) -> set[str]:
    """The functions a value reaches; fails when it reaches one other than through its live alias."""
    aliases = _aliases(resources)
    functions = set(_of_type(resources, "AWS::Lambda::Function"))
    reached = references(value)
    assert not reached & functions, f"unqualified function in {value!r}"
    return {aliases[r] for r in reached if r in aliases}


def test_the_alias_name_is_the_one_the_code_qualifies_with() -> None:
    assert load_raw_template()["Globals"]["Function"]["AutoPublishAlias"] == LIVE_ALIAS


def test_every_function_has_a_live_alias_at_its_published_version(translated: dict[str, Any]) -> None:
    functions = _of_type(translated, "AWS::Lambda::Function")
    aliases = _of_type(translated, "AWS::Lambda::Alias")
    versions = _of_type(translated, "AWS::Lambda::Version")
    assert {a["Properties"]["FunctionName"]["Ref"] for a in aliases.values()} == set(functions)
    assert len(aliases) == len(functions) == len(versions)
    for logical_id, alias in aliases.items():
        props = alias["Properties"]
        assert props["Name"] == LIVE_ALIAS
        version_id, attribute = props["FunctionVersion"]["Fn::GetAtt"]
        assert attribute == "Version"
        assert versions[version_id]["Properties"]["FunctionName"] == props["FunctionName"], logical_id


def test_nothing_names_a_function_unqualified_but_its_version_alias_and_metrics(
    translated: dict[str, Any],
) -> None:
    functions = set(_of_type(translated, "AWS::Lambda::Function"))
    for logical_id, resource in translated.items():
        named = references(resource.get("Properties", {})) & functions
        if named:
            assert resource["Type"] in UNQUALIFIED_ALLOWED, (logical_id, sorted(named))


def test_every_invoker_invokes_the_live_alias(translated: dict[str, Any]) -> None:
    """The exact invokers: state machine tasks and role, API integrations and permissions, the outbox
    stream, the reconciler's rules, PerformAction's adapters and the reconciler's lookup."""
    machine = translated["ExecutionStateMachine"]["Properties"]
    assert _alias_refs(machine["DefinitionSubstitutions"], translated) == {
        "PrepareExecutionFunction",
        "ExecutionRecorderFunction",
        "ExecutionFailureRecorderFunction",
    }
    adapters = translated["PrepareExecutionFunction"]["Properties"]["Environment"]["Variables"]
    assert _alias_refs(adapters["TOOL_ADAPTER_FUNCTIONS"], translated) == {
        "InternalAdapterFunction",
        "CrmAdapterFunction",
    }
    mapping = translated["OutcomePublisherStream"]["Properties"]
    assert _alias_refs(mapping["FunctionName"], translated) == {"OutcomePublisherFunction"}
    targets = [
        target
        for rule in _of_type(translated, "AWS::Events::Rule").values()
        for target in rule["Properties"]["Targets"]
        if "states" not in str(target["Arn"]) and "StateMachine" not in str(target["Arn"])
    ]
    assert {f for t in targets for f in _alias_refs(t["Arn"], translated)} == {"ReconcilerFunction"}
    assert len(targets) == 2  # the finalizer's status-change rule and the sweeper's schedule
    permissions = _of_type(translated, "AWS::Lambda::Permission")
    assert permissions
    for permission in permissions.values():
        assert _alias_refs(permission["Properties"]["FunctionName"], translated)
    uris = re.findall(
        r"functions/\$\{(\w+)\}/invocations", str(translated["StatusApi"]["Properties"]["Body"])
    )
    assert uris
    assert set(uris) == {"ExecutionStatusApiFunctionAliaslive"}
    assert _aliases(translated)["ExecutionStatusApiFunctionAliaslive"] == "ExecutionStatusApiFunction"


def _invoke_grants(role: dict[str, Any]) -> list[Any]:
    return [
        resource
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in str(statement["Action"])
        for resource in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
    ]


def test_roles_may_invoke_only_live_aliases_exactly(translated: dict[str, Any]) -> None:
    """A grant on the unqualified ARN would allow $LATEST; one on `function:name*` every version."""
    granted: dict[str, set[str]] = {}
    aliases = _aliases(translated)
    for logical_id, role in _of_type(translated, "AWS::IAM::Role").items():
        for resource in _invoke_grants(role):
            assert set(resource) == {"Ref"}, (logical_id, resource)
            assert resource["Ref"] in aliases, (logical_id, resource)
            granted.setdefault(logical_id, set()).add(aliases[resource["Ref"]])
    assert granted == {
        "ExecutionStateMachineRole": {
            "PrepareExecutionFunction",
            "InternalAdapterFunction",
            "CrmAdapterFunction",
            "ExecutionRecorderFunction",
            "ExecutionFailureRecorderFunction",
        },
        "ReconcilerFunctionRole": {"CrmAdapterFunction"},
    }


def test_the_status_api_is_a_canary_its_alarms_roll_back(translated: dict[str, Any]) -> None:
    alias = translated["ExecutionStatusApiFunctionAliaslive"]
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group = translated[update["DeploymentGroupName"]["Ref"]]["Properties"]
    assert translated[update["ApplicationName"]["Ref"]]["Properties"]["ComputePlatform"] == "Lambda"
    assert group["DeploymentConfigName"] == {
        "Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": "Canary10Percent5Minutes"}]
    }
    assert group["AlarmConfiguration"] == {
        "Enabled": True,
        "Alarms": [
            {"Name": {"Ref": "StatusApi5xxAlarm"}},
            {"Name": {"Ref": "StatusApiNewVersionErrorsAlarm"}},
        ],
    }
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    assert group["AutoRollbackConfiguration"]["Enabled"] is True
    # The alarm watches the API that integrates with this alias, on this stage: every response of both
    # versions during the canary, a crash's 502 and a timeout's 504 included.
    alarm = translated["StatusApi5xxAlarm"]["Properties"]
    api = translated["StatusApi"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/ApiGateway",
        "5XXError",
        "Sum",
    )
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "ApiName": api["Name"],
        "Stage": {"Ref": "Stage"},
    }
    assert alarm["Threshold"] == 1
    # ... and one sees only the version being deployed: the alias's invocations that ran that version.
    version = translated["StatusApiNewVersionErrorsAlarm"]["Properties"]
    (version_id,) = [v for v, r in _of_type(translated, "AWS::Lambda::Version").items() if "StatusApi" in v]
    assert {d["Name"]: d["Value"] for d in version["Dimensions"]} == {
        "FunctionName": {"Ref": "ExecutionStatusApiFunction"},
        "Resource": {"Fn::Sub": "${ExecutionStatusApiFunction}:live"},
        "ExecutedVersion": {"Fn::Select": [7, {"Fn::Split": [":", {"Ref": version_id}]}]},
    }
    assert (version["MetricName"], version["Period"], version["Threshold"]) == ("Errors", 60, 1)


def test_the_pipeline_functions_switch_all_at_once_without_codedeploy(translated: dict[str, Any]) -> None:
    """ADR 0013: executions in flight cross versions anyway; a weighted alias would mix them at random."""
    for function in PIPELINE:
        (alias,) = [a for a, f in _aliases(translated).items() if f == function]
        assert "UpdatePolicy" not in translated[alias], function
    groups = _of_type(translated, "AWS::CodeDeploy::DeploymentGroup")
    assert list(groups) == ["ExecutionStatusApiFunctionDeploymentGroup"]
