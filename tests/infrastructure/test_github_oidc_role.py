"""deploy/github-oidc-role.yaml: only one repository's one GitHub environment can assume the deploy role,
which can change only its own stack and only through the CloudFormation service role."""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.api import lint

from local_runtime.template import PROJECT_ROOT, load_project_template, load_raw_template
from tests.support.samconfig import ENVIRONMENTS, filled

PATH = PROJECT_ROOT / "deploy" / "github-oidc-role.yaml"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(load_raw_template(PATH)["Resources"])


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_cfn_lint_reports_nothing() -> None:
    assert [str(m) for m in lint(PATH.read_text(encoding="utf-8"))] == []


def test_only_the_repositorys_environment_can_assume_the_deploy_role(resources: dict[str, Any]) -> None:
    (statement,) = resources["GitHubDeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Principal"]) == {"Federated"}
    condition = statement["Condition"]
    assert set(condition) == {"StringEquals"}  # no StringLike: no wildcard subject
    assert condition["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert condition["StringEquals"]["token.actions.githubusercontent.com:sub"] == {
        "Fn::Sub": "repo:${GitHubRepository}:environment:${GitHubEnvironment}"
    }


def test_the_deploy_role_changes_only_its_stack_through_the_service_role(resources: dict[str, Any]) -> None:
    statements = _statements(resources["GitHubDeployRole"])
    actions = {a for s in statements for a in _listed(s["Action"])}
    assert all(s["Effect"] == "Allow" for s in statements)
    assert not [a for a in actions if a.endswith("*")]
    assert {a.split(":")[0] for a in actions} == {"cloudformation", "s3", "iam"}
    assert [a for a in actions if a.startswith("iam:")] == ["iam:PassRole"]
    (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    unscoped = {a for s in statements if s["Resource"] == "*" for a in _listed(s["Action"])}
    assert unscoped <= {"cloudformation:ValidateTemplate", "cloudformation:GetTemplateSummary"}
    (change,) = [s for s in statements if s.get("Sid") == "ChangeTheStageStack"]
    assert {"Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/"
            "${TargetStackName}/*"} in change["Resource"]  # fmt: skip


def test_the_service_role_is_for_cloudformation_in_this_account_and_the_stacks_roles(
    resources: dict[str, Any],
) -> None:
    role = resources["CloudFormationExecutionRole"]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    statements = _statements(role)
    iam = [s for s in statements if any(a.startswith("iam:") for a in _listed(s["Action"]))]
    for statement in iam:
        assert statement["Resource"] == {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${TargetStackName}-*"
        }
    attach = next(s for s in iam if "iam:AttachRolePolicy" in s["Action"])
    assert len(attach["Condition"]["ArnEquals"]["iam:PolicyARN"]) == 4
    assert not [s for s in statements if "*" in _listed(s["Action"]) or s["Effect"] != "Allow"]


# The IAM service prefix of each resource type the application's stack creates (the translated template).
SERVICE_OF_TYPE = {
    "ApiGateway": "apigateway", "CloudWatch": "cloudwatch", "CodeDeploy": "codedeploy",
    "Cognito": "cognito-idp", "DynamoDB": "dynamodb", "Events": "events", "IAM": "iam", "Lambda": "lambda",
    "Logs": "logs", "S3": "s3", "SNS": "sns", "SQS": "sqs", "SecretsManager": "secretsmanager",
    "StepFunctions": "states",
}  # fmt: skip
NEEDS_NO_PERMISSION = {"AWS::CloudFormation::WaitConditionHandle"}


@pytest.fixture(scope="module", params=sorted(ENVIRONMENTS))
def application(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The application stack's resources as the SAM translator expands them for one samconfig environment."""
    return dict(load_project_template(parameter_overrides=filled(request.param)).resources)


def test_the_service_role_may_create_every_kind_of_resource_the_stack_has(
    resources: dict[str, Any], application: dict[str, Any]
) -> None:
    granted = {
        a.split(":")[0]
        for s in _statements(resources["CloudFormationExecutionRole"])
        for a in _listed(s["Action"])
    }
    types = {r["Type"] for r in application.values()} - NEEDS_NO_PERMISSION
    unknown = sorted(t for t in types if t.split("::")[1] not in SERVICE_OF_TYPE)
    assert not unknown, (
        f"new resource types: add their IAM service to SERVICE_OF_TYPE and the role: {unknown}"
    )
    missing = sorted(t for t in types if SERVICE_OF_TYPE[t.split("::")[1]] not in granted)
    assert not missing, f"the CloudFormation service role cannot create {missing}"


def test_the_service_role_may_attach_every_managed_policy_the_stack_attaches(
    resources: dict[str, Any], application: dict[str, Any]
) -> None:
    statements = _statements(resources["CloudFormationExecutionRole"])
    attach = next(s for s in statements if "iam:AttachRolePolicy" in _listed(s["Action"]))
    allowed = {
        arn["Fn::Sub"].replace("${AWS::Partition}", "aws")
        for arn in attach["Condition"]["ArnEquals"]["iam:PolicyARN"]
    }
    attached = {
        (arn["Fn::Sub"].replace("${AWS::Partition}", "aws") if isinstance(arn, dict) else arn)
        for r in application.values()
        if r["Type"] == "AWS::IAM::Role"
        for arn in r["Properties"].get("ManagedPolicyArns", [])
    }
    assert attached <= allowed, (
        f"managed policies the service role may not attach: {sorted(attached - allowed)}"
    )
