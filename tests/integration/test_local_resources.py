"""What the local runtime creates matches template.yaml exactly (no second copy of any shape)."""

from __future__ import annotations

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
        assert alarm["Period"] == 300
    dashboards = runtime.client("cloudwatch").list_dashboards()["DashboardEntries"]
    assert runtime.outputs()["DashboardName"] in {d["DashboardName"] for d in dashboards}
