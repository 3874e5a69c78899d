"""template.yaml: the status API's security (authorizer, CORS, throttling, logs, least privilege)."""

from __future__ import annotations

from typing import Any

import pytest

from execution_core.settings import StatusApiSettings
from local_runtime.template import (
    IntrinsicContext,
    condition_values,
    load_project_template,
    load_raw_template,
    resolve_intrinsics,
)

FUNCTION = "ExecutionStatusApiFunction"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(load_raw_template()["Resources"])


def test_api_defaults_to_the_cognito_authorizer_of_the_stacks_pool(resources: dict[str, Any]) -> None:
    api = resources["StatusApi"]["Properties"]
    assert resources["StatusApi"]["Type"] == "AWS::Serverless::Api"
    assert api["StageName"] == {"Ref": "Stage"}
    auth = api["Auth"]
    assert auth["DefaultAuthorizer"] == "CognitoAuthorizer"
    assert auth["AddDefaultAuthorizerToCorsPreflight"] is False
    assert auth["Authorizers"]["CognitoAuthorizer"]["UserPoolArn"] == {"Fn::GetAtt": ["UserPool", "Arn"]}


def test_only_preflights_opt_out_of_the_authorizer(resources: dict[str, Any]) -> None:
    events = resources[FUNCTION]["Properties"]["Events"]
    for name, event in events.items():
        props = event["Properties"]
        assert props["RestApiId"] == {"Ref": "StatusApi"}, name
        opted_out = props.get("Auth", {}).get("Authorizer") == "NONE"
        assert opted_out == (props["Method"] == "OPTIONS"), name


def test_stage_throttling_access_logs_and_tracing(resources: dict[str, Any]) -> None:
    api = resources["StatusApi"]["Properties"]
    (settings,) = api["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingBurstLimit"] > 0
    assert settings["ThrottlingRateLimit"] > 0
    assert api["TracingEnabled"] is True
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["StatusApiAccessLogGroup", "Arn"]}
    assert "RetentionInDays" in resources["StatusApiAccessLogGroup"]["Properties"]


def test_gateway_errors_carry_cors_headers(resources: dict[str, Any]) -> None:
    responses = resources["StatusApi"]["Properties"]["GatewayResponses"]
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert "Access-Control-Allow-Origin" in responses[kind]["ResponseParameters"]["Headers"], kind


def test_the_function_reads_only_what_it_serves(resources: dict[str, Any]) -> None:
    statements = [s for p in resources[FUNCTION]["Properties"]["Policies"] for s in p["Statement"]]
    granted = {
        (action, str(target)) for s in statements for action in s["Action"] for target in _list(s["Resource"])
    }
    assert granted == {
        ("dynamodb:BatchGetItem", table("ActionIntentsTable")),
        ("dynamodb:BatchGetItem", table("ExecutionAttemptsTable")),
        ("dynamodb:BatchGetItem", table("ExecutionOutcomesTable")),
        ("dynamodb:BatchGetItem", table("TenantsTable")),
        ("dynamodb:GetItem", table("TenantsTable")),
        ("dynamodb:Query", str({"Fn::Sub": "${ExecutionAttemptsTable.Arn}/index/AccountStartedIndex"})),
        # The status filter (ADR 0010): the index only, never the attempts table itself.
        ("dynamodb:Query", str({"Fn::Sub": "${ExecutionAttemptsTable.Arn}/index/AccountStatusIndex"})),
        ("dynamodb:Query", table("LedgerTable")),  # an intent's audit trail (keys embed the tenant)
        ("dynamodb:Query", table("TenantsTable")),  # /accounts by membership (keys embed the tenant)
        ("secretsmanager:GetSecretValue", str({"Ref": "PaginationTokenSecret"})),
    }
    assert all(s["Effect"] == "Allow" for s in statements)


def test_the_status_filter_index_is_keyed_by_status_and_start(resources: dict[str, Any]) -> None:
    table_props = resources["ExecutionAttemptsTable"]["Properties"]
    (index,) = [i for i in table_props["GlobalSecondaryIndexes"] if i["IndexName"] == "AccountStatusIndex"]
    assert index["KeySchema"] == [
        {"AttributeName": "status_pk", "KeyType": "HASH"},
        {"AttributeName": "started_sk", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}  # a row is built from the index item alone
    assert {"AttributeName": "status_pk", "AttributeType": "S"} in table_props["AttributeDefinitions"]


def test_every_route_has_its_preflight(resources: dict[str, Any]) -> None:
    events = resources[FUNCTION]["Properties"]["Events"].values()
    routes = {(e["Properties"]["Path"], e["Properties"]["Method"]) for e in events}
    paths = {path for path, _ in routes}
    assert paths == {
        "/executions/{action_intent_id}/status",
        "/executions/{action_intent_id}/ledger",
        "/accounts/{account_id}/executions",
        "/accounts",
    }
    assert routes == {(path, method) for path in paths for method in ("GET", "OPTIONS")}


def test_pagination_key_is_a_generated_secret(resources: dict[str, Any]) -> None:
    secret = resources["PaginationTokenSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    env = resources[FUNCTION]["Properties"]["Environment"]["Variables"]
    assert env["PAGINATION_SECRET_ARN"] == {"Ref": "PaginationTokenSecret"}
    assert env["CORS_ALLOWED_ORIGINS"] == {"Fn::Join": [",", {"Ref": "AllowedOrigins"}]}


@pytest.mark.parametrize(
    ("origins", "expected"),
    [
        ("https://a.example", "'https://a.example'"),
        ("https://a.example,https://b.example", "method.request.header.Origin"),
    ],
)
def test_gateway_response_origin_follows_the_number_of_allowed_origins(origins: str, expected: str) -> None:
    translated = load_project_template(parameter_overrides={"AllowedOrigins": origins})
    ctx = IntrinsicContext(
        parameters=translated.parameters, pseudo={"AWS::Region": "us-east-1", "AWS::StackName": "s"}
    )
    condition_values(translated, ctx)
    body = translated.resources["StatusApi"]["Properties"]["Body"]
    responses = resolve_intrinsics(body["x-amazon-apigateway-gateway-responses"], ctx)
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert (
            responses[kind]["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
            == expected
        )


def test_outputs_name_the_api_url() -> None:
    outputs = load_raw_template()["Outputs"]
    assert "StatusApi" in str(outputs["StatusApiUrl"]["Value"])


def table(name: str) -> str:
    return str({"Fn::GetAtt": [name, "Arn"]})


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("ttl", [None, 60, 3600])
def test_the_page_token_lifetime_is_a_parameter_that_reaches_the_function(ttl: int | None) -> None:
    spec = load_raw_template()["Parameters"]["PageTokenTtlSeconds"]
    field = StatusApiSettings.model_fields["pagination_token_ttl_seconds"]
    # The parameter's bounds are the settings' bounds, and its default is the settings' default.
    assert (spec["Type"], spec["Default"], field.default) == ("Number", 900, 900)
    assert {type(m).__name__: m for m in field.metadata}["Ge"].ge == spec["MinValue"]
    assert {type(m).__name__: m for m in field.metadata}["Le"].le == spec["MaxValue"]
    overrides = {} if ttl is None else {"PageTokenTtlSeconds": ttl}
    translated = load_project_template(parameter_overrides=overrides)
    ctx = IntrinsicContext(
        parameters=translated.parameters, pseudo={"AWS::Region": "us-east-1", "AWS::StackName": "s"}
    )
    environment = translated.resources[FUNCTION]["Properties"]["Environment"]["Variables"]
    value = resolve_intrinsics(environment["PAGINATION_TOKEN_TTL_SECONDS"], ctx)
    assert str(value) == str(ttl or 900)
