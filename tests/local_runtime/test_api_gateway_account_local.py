"""The local runtime deploys template.yaml cleanly whether or not the stack manages the account's API
Gateway CloudWatch Logs role: off, none of it is created; on, the role is (trusting API Gateway only),
and the account setting, which the local API server does not need, is skipped by name, not by accident."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from local_runtime.emulator import NOTHING_TO_CREATE, LocalEmulator, LocalStack
from local_runtime.project import deploy_project

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def managing_stack(local_emulator: LocalEmulator) -> LocalStack:
    return deploy_project(
        local_emulator, stack_name="bel-apigw-account", parameters={"ManageApiGatewayAccountRole": "true"}
    )


def test_off_by_default_nothing_account_wide_is_created(runtime: LocalStack) -> None:
    for logical_id in ("ApiGatewayCloudWatchRole", "ApiGatewayAccount"):
        assert runtime.skipped[logical_id] == "condition ManagesApiGatewayAccount is false"
        assert logical_id not in runtime.created
    assert (
        runtime.skipped["ApiGatewayAccountReady"]
        == NOTHING_TO_CREATE["AWS::CloudFormation::WaitConditionHandle"]
    )
    assert "ActionIntentsTable" in runtime.created


def test_on_the_role_is_created_for_api_gateway_only(managing_stack: LocalStack) -> None:
    iam = managing_stack.client("iam")
    name = managing_stack.physical_name("ApiGatewayCloudWatchRole")
    role = iam.get_role(RoleName=name)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(unquote(trust)) if isinstance(trust, str) else trust
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "apigateway.amazonaws.com"}]
    # No inline policy; the managed one is not attached locally (moto does not load AWS managed
    # policies, for the functions' roles neither): tests/infrastructure/test_deploy_rehearsal.py checks the
    # template.
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []


def test_on_the_account_setting_is_skipped_and_the_stack_still_works(managing_stack: LocalStack) -> None:
    assert managing_stack.skipped["ApiGatewayAccount"] == NOTHING_TO_CREATE["AWS::ApiGateway::Account"]
    outputs = managing_stack.outputs()
    assert outputs["ActionIntentsTableName"] == managing_stack.physical_name("ActionIntentsTable")
    assert "ExecutionStatusApiFunction" in managing_stack.functions
