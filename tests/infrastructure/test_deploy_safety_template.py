"""What a first deploy and a second stack need from template.yaml: data resources that a failed first
create does not orphan, names that do not collide across regions, and function logs that expire."""

from __future__ import annotations

from typing import Any

import pytest

from local_runtime.template import load_raw_template

DATA_RESOURCE_TYPES = {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Cognito::UserPool"}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(load_raw_template()["Resources"])


def test_data_resources_are_kept_on_delete_but_not_orphaned_by_a_failed_create(
    resources: dict[str, Any],
) -> None:
    data = {name: r for name, r in resources.items() if r["Type"] in DATA_RESOURCE_TYPES}
    assert len(data) >= 12
    for name, resource in data.items():
        assert resource.get("DeletionPolicy") == "RetainExceptOnCreate", name
        assert resource.get("UpdateReplacePolicy") == "Retain", name
    assert not [n for n, r in resources.items() if r.get("DeletionPolicy") == "Retain"]


def test_the_dashboard_name_is_unique_per_stack_and_region(resources: dict[str, Any]) -> None:
    dashboards = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    assert dashboards
    for dashboard in dashboards:
        name = str(dashboard["Properties"]["DashboardName"])
        assert "${AWS::StackName}" in name, name
        assert "${AWS::Region}" in name, name


def test_every_function_logs_to_a_log_group_of_its_own_that_expires(
    raw_parameters: dict[str, Any], resources: dict[str, Any]
) -> None:
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert len(functions) >= 8
    names = set()
    for name, function in functions.items():
        group_ref = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert group_ref == {"Ref": f"{name}LogGroup"}, name
        group = resources[f"{name}LogGroup"]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        group_name = str(group["Properties"]["LogGroupName"]["Fn::Sub"])
        assert group_name.startswith("/aws/lambda/${AWS::StackName}-"), group_name
        names.add(group_name)
    assert len(names) == len(functions)
    retention = raw_parameters["LogRetentionDays"]
    assert retention["Default"] in retention["AllowedValues"]
    cloudwatch_logs_allows = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731}
    cloudwatch_logs_allows |= {1096, 1827, 2192, 2557, 2922, 3288, 3653}
    assert set(retention["AllowedValues"]) <= cloudwatch_logs_allows


@pytest.fixture(scope="module")
def raw_parameters() -> dict[str, Any]:
    return dict(load_raw_template()["Parameters"])


def test_cognito_asks_for_mfa_in_prod_and_admin_password_sign_in_only_when_enabled() -> None:
    """The translated template per stage: TOTP required in prod, optional elsewhere; the admin password
    flow (scripted test users) only where the AdminPasswordAuth parameter turns it on."""
    raw = load_raw_template()
    pool = raw["Resources"]["UserPool"]["Properties"]
    assert pool["MfaConfiguration"] == {"Fn::If": ["IsProd", "ON", "OPTIONAL"]}
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    flows = raw["Resources"]["UserPoolClient"]["Properties"]["ExplicitAuthFlows"]["Fn::If"]
    assert flows[0] == "HasAdminPasswordAuth"
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" in flows[1]
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" not in flows[2]
    assert raw["Conditions"]["HasAdminPasswordAuth"] == {
        "Fn::Equals": [{"Ref": "AdminPasswordAuth"}, "enabled"]
    }
    assert raw["Parameters"]["AdminPasswordAuth"]["Default"] == "disabled"


def test_concurrency_caps_are_parameters_that_reserve_nothing_by_default() -> None:
    """A fresh account's quota (10) leaves nothing to reserve, so a fixed reservation fails the first
    deploy; the caps are parameters, off by default, on the functions that act and the reconciler."""
    raw = load_raw_template()
    resources, parameters = raw["Resources"], raw["Parameters"]
    capped = {
        "InternalAdapterFunction": ("HasAdapterConcurrencyCap", "AdapterReservedConcurrency"),
        "CrmAdapterFunction": ("HasAdapterConcurrencyCap", "AdapterReservedConcurrency"),
        "ReconcilerFunction": ("HasReconcilerConcurrencyCap", "ReconcilerReservedConcurrency"),
    }
    for name, (condition, parameter) in capped.items():
        reserved = resources[name]["Properties"]["ReservedConcurrentExecutions"]
        assert reserved == {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}, name
        assert parameters[parameter]["Default"] == 0
    fixed = [
        n
        for n, r in resources.items()
        if isinstance(r.get("Properties", {}).get("ReservedConcurrentExecutions"), int)
    ]
    assert fixed == []


def test_the_translated_api_has_only_its_configured_stage() -> None:
    """Without OpenApiVersion, SAM's Deployment also creates a stage named "Stage" (no access logs,
    throttling, tracing or alarm). Checked on the SAM translator's output, as CloudFormation gets it."""
    from local_runtime.template import load_project_template

    translated = load_project_template().resources
    deployments = [r for r in translated.values() if r["Type"] == "AWS::ApiGateway::Deployment"]
    stages = [r for r in translated.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert deployments
    assert all("StageName" not in d["Properties"] for d in deployments)
    assert [s["Properties"]["StageName"] for s in stages] == [{"Ref": "Stage"}]
