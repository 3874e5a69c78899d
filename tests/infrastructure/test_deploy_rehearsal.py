"""An offline deploy rehearsal: template.yaml translated by the SAM translator for each samconfig
environment, checked for what makes a real first or second deploy go wrong: names that collide across
stacks or regions, a stray API stage, an unmanaged log group, data kept after a failed first create, an
alarm that notifies nobody, an account-wide setting taken over unasked. (What it cannot prove: IAM,
quotas and service behaviour in a real account.)"""

from __future__ import annotations

from typing import Any

import pytest

from local_runtime.template import IntrinsicContext, ProjectTemplate, condition_values, load_project_template
from tests.support.samconfig import ENVIRONMENTS, PLACEHOLDER, filled, overrides

# Physical names CloudFormation would otherwise generate; a literal one collides with a second stack.
NAME_PROPERTIES = {
    "Name", "TableName", "FunctionName", "QueueName", "TopicName", "StateMachineName", "AlarmName",
    "DashboardName", "UserPoolName", "ClientName", "LogGroupName", "LayerName", "BucketName", "RoleName",
    "ApplicationName", "DeploymentGroupName",
}  # fmt: skip
ACCOUNT_GLOBAL = {"DashboardName", "BucketName", "RoleName"}  # unique across regions too
ACCOUNT_SETTING = ("ApiGatewayCloudWatchRole", "ApiGatewayAccount")
PUSH_TO_LOGS = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
# Names unique only inside their parent resource, which has a stack-scoped name: a function's alias.
SCOPED_NAMES = {("AWS::Lambda::Alias", "Name")}


def _created(template: ProjectTemplate) -> set[str]:
    """The logical ids CloudFormation would create: those without a condition or whose condition holds."""
    context = IntrinsicContext(parameters=template.parameters, pseudo={"AWS::Region": "us-east-1"})
    conditions = condition_values(template, context)
    return {k for k, r in template.resources.items() if conditions.get(r.get("Condition", ""), True)}


@pytest.fixture(scope="module", params=sorted(ENVIRONMENTS))
def translated(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(load_project_template(parameter_overrides=filled(request.param)).resources)


def test_no_physical_name_collides_across_stacks_or_regions(translated: dict[str, Any]) -> None:
    for logical_id, resource in translated.items():
        for prop, value in resource.get("Properties", {}).items():
            if (resource["Type"], prop) in SCOPED_NAMES:
                continue
            if prop not in NAME_PROPERTIES or (
                isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value)
            ):
                continue
            assert isinstance(value, dict), f"{logical_id}.{prop} is a literal name: {value!r}"
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            assert "${AWS::StackName}" in text, f"{logical_id}.{prop}: {text}"
            if prop in ACCOUNT_GLOBAL:
                assert "${AWS::Region}" in text, f"{logical_id}.{prop} is account-global: {text}"


def test_the_api_has_no_stray_stage(translated: dict[str, Any]) -> None:
    deployments = [r for r in translated.values() if r["Type"] == "AWS::ApiGateway::Deployment"]
    assert deployments
    assert all("StageName" not in d["Properties"] for d in deployments)


def test_every_function_log_group_is_managed_with_retention(translated: dict[str, Any]) -> None:
    functions = {k: r for k, r in translated.items() if r["Type"] == "AWS::Lambda::Function"}
    assert len(functions) >= 8
    for logical_id, function in functions.items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert translated[group]["Type"] == "AWS::Logs::LogGroup", logical_id
        assert "RetentionInDays" in translated[group]["Properties"], group


def test_nothing_is_retained_after_a_failed_first_create(translated: dict[str, Any]) -> None:
    retained = {k: r for k, r in translated.items() if r.get("DeletionPolicy") == "Retain"}
    # SAM retains the versions AutoPublishAlias publishes (a stack update must not delete the version the
    # alias pointed at). A version cannot outlive its function: deleting the function, which is not
    # retained, deletes every version, so nothing is left behind to collide with.
    versions = {k: r for k, r in retained.items() if r["Type"] == "AWS::Lambda::Version"}
    for logical_id, version in versions.items():
        function = translated[version["Properties"]["FunctionName"]["Ref"]]
        assert function["Type"] == "AWS::Lambda::Function", logical_id
        assert function.get("DeletionPolicy") in (None, "Delete"), logical_id
    assert sorted(retained.keys() - versions.keys()) == []


def test_every_alarm_notifies_someone(translated: dict[str, Any]) -> None:
    alarms = {k: r for k, r in translated.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) >= 15
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"].get("AlarmActions"), logical_id


@pytest.mark.parametrize("value", ["true", "false"])
def test_the_account_logging_role_is_created_only_when_the_parameter_says_so(value: str) -> None:
    template = load_project_template(
        parameter_overrides=filled("default") | {"ManageApiGatewayAccountRole": value}
    )
    resources = template.resources
    assert [k for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Account"] == [
        "ApiGatewayAccount"
    ]
    assert set(ACCOUNT_SETTING) & _created(template) == (set(ACCOUNT_SETTING) if value == "true" else set())
    # The API (and so its stage, whose access logs need the setting) waits for it when it is managed here.
    assert resources["StatusApi"]["DependsOn"] == "ApiGatewayAccountReady"
    assert resources["ApiGatewayAccountReady"]["Metadata"]["ApiGatewayAccount"] == {
        "Fn::If": ["ManagesApiGatewayAccount", {"Ref": "ApiGatewayAccount"}, "none"]
    }
    assert resources["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]
    }


def test_the_account_logging_role_is_least_privilege_and_outlives_the_stack(
    translated: dict[str, Any],
) -> None:
    role = translated["ApiGatewayCloudWatchRole"]
    properties = role["Properties"]
    assert properties["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert properties["ManagedPolicyArns"] == [{"Fn::Sub": PUSH_TO_LOGS}]
    assert not {"Policies", "RoleName", "PermissionsBoundary"} & properties.keys()
    # Deleting the stack leaves the account setting pointing at this role: keep the role, except after a
    # failed first create (nothing points at it then).
    assert role["DeletionPolicy"] == "RetainExceptOnCreate"


def test_dev_owns_the_account_setting_and_staging_and_prod_must_choose() -> None:
    assert overrides("default")["ManageApiGatewayAccountRole"] == "true"
    for environment in ("staging", "prod"):
        assert overrides(environment)["ManageApiGatewayAccountRole"] == PLACEHOLDER
