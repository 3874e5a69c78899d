"""What the local runtime adds for the API: the generated pagination secret, the REST API listed as not
emulated (the local API server serves it), and API Gateway's own answers for function failures and
unknown routes."""

from __future__ import annotations

import pytest
import requests

from local_runtime.api_server import LocalApiServer
from local_runtime.emulator import LocalStack
from tests.support.status_api import FUNCTION, ORIGIN, ApiTenant, call

pytestmark = pytest.mark.emulator


def test_the_pagination_secret_is_generated_from_the_template(runtime: LocalStack) -> None:
    arn = runtime.physical_name("PaginationTokenSecret")
    assert runtime.function(FUNCTION).environment["PAGINATION_SECRET_ARN"] == arn
    value = runtime.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    assert len(value) == 64
    assert value.isalnum()  # ExcludePunctuation: true


def test_the_page_token_lifetime_parameter_reaches_the_function(runtime: LocalStack) -> None:
    assert str(runtime.function(FUNCTION).environment["PAGINATION_TOKEN_TTL_SECONDS"]) == "900"


def test_the_rest_api_is_served_by_the_local_server_not_created(runtime: LocalStack) -> None:
    assert "StatusApi" in runtime.skipped
    assert "StatusApiUrl" not in runtime.outputs()  # its Ref cannot resolve locally
    assert "UserPoolId" in runtime.outputs()


def test_a_crashed_function_is_a_502_with_cors_like_api_gateway(
    api: LocalApiServer, runtime: LocalStack, tenant: ApiTenant
) -> None:
    function = runtime.function(FUNCTION)
    function.inject_fault("Runtime.ExitError")
    try:
        reply = call(api, f"/executions/ai-1/status?account_id={tenant.account_ids[0]}", tenant.token())
    finally:
        function.clear_faults()
    assert (reply.status, reply.body) == (502, {"error": "Internal server error"})
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_unknown_routes_and_methods_get_api_gateways_403(api: LocalApiServer, tenant: ApiTenant) -> None:
    assert call(api, "/executions", tenant.token()).status == 403
    post = requests.post(
        f"{api.url}/accounts/{tenant.account_ids[0]}/executions", headers={"Origin": ORIGIN}, timeout=10
    )
    assert post.status_code == 403
    assert post.json() == {"error": "Missing Authentication Token"}
