"""What the local runtime creates matches template.yaml exactly (no second copy of any shape)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_runtime.emulator import LocalStack
from local_runtime.template import load_raw_template

pytestmark = pytest.mark.emulator

RAW_RESOURCES = load_raw_template()["Resources"]
TABLE_IDS = sorted(lid for lid, r in RAW_RESOURCES.items() if r["Type"] == "AWS::DynamoDB::Table")


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


@pytest.mark.parametrize("logical_id", TABLE_IDS)
def test_table_matches_template(runtime: LocalStack, logical_id: str) -> None:
    declared = RAW_RESOURCES[logical_id]["Properties"]
    ddb = runtime.client("dynamodb")
    name = runtime.physical_name(logical_id)
    table = ddb.describe_table(TableName=name)["Table"]

    assert _keys(table["KeySchema"]) == _keys(declared["KeySchema"])
    assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
        (a["AttributeName"], a["AttributeType"]) for a in declared["AttributeDefinitions"]
    }
    assert table["BillingModeSummary"]["BillingMode"] == declared["BillingMode"]
    created_indexes = {
        i["IndexName"]: (_keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
        for i in table.get("GlobalSecondaryIndexes", [])
    }
    declared_indexes = {
        i["IndexName"]: (_keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
        for i in declared.get("GlobalSecondaryIndexes", [])
    }
    assert created_indexes == declared_indexes

    ttl: dict[str, Any] = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    declared_ttl = declared.get("TimeToLiveSpecification")
    if declared_ttl:
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", declared_ttl["AttributeName"])
    else:
        assert ttl["TimeToLiveStatus"] == "DISABLED"

    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_artifacts_bucket_configuration(runtime: LocalStack) -> None:
    s3 = runtime.client("s3")
    bucket = runtime.physical_name("ArtifactsBucket")

    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle[0]["Expiration"]["Days"] == 90
    # The TLS-only statement cannot hold on the plain-HTTP emulator; the runtime says so instead.
    assert "TLS-only" in runtime.adjustments["ArtifactsBucketPolicy"]


def test_user_pool_and_client_follow_template(runtime: LocalStack) -> None:
    cognito = runtime.client("cognito-idp")
    outputs = runtime.outputs()
    pool = cognito.describe_user_pool(UserPoolId=outputs["UserPoolId"])["UserPool"]
    client = cognito.describe_user_pool_client(
        UserPoolId=outputs["UserPoolId"], ClientId=outputs["UserPoolClientId"]
    )["UserPoolClient"]

    attributes = {a["Name"] for a in pool["SchemaAttributes"]}
    assert {"custom:tenant_id", "custom:account_ids"} <= attributes
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 14
    assert "custom:tenant_id" not in client["WriteAttributes"]


def test_outputs_resolve_to_created_resources(runtime: LocalStack) -> None:
    outputs = runtime.outputs()
    assert outputs["ActionIntentsTableName"] == runtime.physical_name("ActionIntentsTable")
    assert outputs["ExecutionEventBusName"] == runtime.physical_name("ExecutionEventBus")
    assert outputs["ApprovalEventSource"] == "decision.approvals"
    names = runtime.client("events").list_event_buses()["EventBuses"]
    assert outputs["ExecutionEventBusName"] in {b["Name"] for b in names}


def test_conditional_resources_follow_parameters(runtime: LocalStack) -> None:
    assert "AlarmEmailSubscription" in runtime.skipped
    assert "AlarmEmailSubscription" not in runtime.created


def test_alarms_and_dashboard_are_created_locally(runtime: LocalStack) -> None:
    declared = {lid for lid, r in RAW_RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    alarms = runtime.client("cloudwatch").describe_alarms()["MetricAlarms"]
    by_name = {a["AlarmName"]: a for a in alarms}
    for logical_id in declared:
        alarm = by_name[runtime.physical_name(logical_id)]
        assert alarm["AlarmActions"] == [runtime.outputs()["AlarmTopicArn"]]
        # As declared: 300 s, except the status API canary's 60-s rollback alarm (ADR 0013).
        assert alarm["Period"] == RAW_RESOURCES[logical_id]["Properties"]["Period"]
        assert alarm["Period"] in (60, 300)
    dashboards = runtime.client("cloudwatch").list_dashboards()["DashboardEntries"]
    assert runtime.outputs()["DashboardName"] in {d["DashboardName"] for d in dashboards}


def test_every_function_has_its_live_alias_at_a_published_version_locally(runtime: LocalStack) -> None:
    """ADR 0013: the versions and aliases of the translated template exist, and the alias runs the code."""
    lam = runtime.client("lambda")
    aliases = runtime.template.resources_of_type("AWS::Lambda::Alias")
    assert len(aliases) == len(runtime.functions)
    for alias_id, alias in aliases.items():
        function = runtime.function(alias["Properties"]["FunctionName"]["Ref"])
        version_id = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
        described = lam.get_alias(FunctionName=function.function_name, Name="live")
        assert described["AliasArn"] == runtime.physical_name(alias_id) == f"{function.function_arn}:live"
        # The latest published version: the template's own, or a later one a test deployed (and rolled back).
        published = [
            int(v["Version"])
            for v in lam.list_versions_by_function(FunctionName=function.function_name)["Versions"]
            if v["Version"] != "$LATEST"
        ]
        assert int(described["FunctionVersion"]) == max(published)
        assert int(runtime.physical_name(version_id).rsplit(":", 1)[1]) == min(published)
        assert runtime.function_for(described["AliasArn"]) is function
        assert runtime.function_for(f"{function.function_name}:live") is function


def test_the_alias_runs_the_same_in_process_code_as_the_function(runtime: LocalStack) -> None:
    function = runtime.function("ReconcilerFunction")
    lam = runtime.client("lambda")
    before = function.invocations
    for name in (function.function_name, f"{function.function_name}:live", f"{function.function_arn}:live"):
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"unexpected": True}).encode())
        assert json.loads(response["Payload"].read())["errorType"] == "InvalidInputError", name
    assert function.invocations - before == 3
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=f"{function.function_name}:no-such-alias", Payload=b"{}")


def test_the_status_api_canary_is_modelled_locally(runtime: LocalStack) -> None:
    """CodeDeploy's application and deployment group are created as declared; nothing shifts traffic."""
    codedeploy = runtime.client("codedeploy")
    application = runtime.physical_name("ServerlessDeploymentApplication")
    group = codedeploy.get_deployment_group(
        applicationName=application,
        deploymentGroupName=runtime.physical_name("ExecutionStatusApiFunctionDeploymentGroup"),
    )["deploymentGroupInfo"]
    assert group["deploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert group["autoRollbackConfiguration"]["enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["autoRollbackConfiguration"]["events"]
    assert group["serviceRoleArn"] == runtime.arn("CodeDeployServiceRole")
