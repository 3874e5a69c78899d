"""What the local API server adds for the operator console (local_runtime/console_site.py), without a
browser: the static files and config.json, and a sign-in pass-through that lets through only the two
unauthenticated calls of a user sign-in."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from pycognito import aws_srp

from local_runtime.api_server import LocalApiServer
from local_runtime.console_site import CONSOLE_DIR
from local_runtime.emulator import LocalStack
from tests.support.status_api import ApiTenant, call

TARGET = "AWSCognitoIdentityProviderService."


def idp(api: LocalApiServer, operation: str, body: Any, method: str = "POST") -> requests.Response:
    return requests.request(
        method,
        f"{api.url}/cognito-idp/",
        data=body if isinstance(body, bytes) else json.dumps(body),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + operation},
        timeout=30,
    )


def test_the_console_files_are_served_with_a_strict_content_security_policy(api: LocalApiServer) -> None:
    index = requests.get(f"{api.url}/console/", timeout=30)
    script = requests.get(f"{api.url}/console/app.js", timeout=30)

    assert index.status_code == 200
    assert index.headers["Content-Type"] == "text/html; charset=utf-8"
    assert index.content == (CONSOLE_DIR / "index.html").read_bytes()
    policy = index.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert index.headers["X-Content-Type-Options"] == "nosniff"
    assert script.status_code == 200
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"


def test_console_without_a_slash_redirects(api: LocalApiServer) -> None:
    response = requests.get(f"{api.url}/console", allow_redirects=False, timeout=30)

    assert response.status_code == 308
    assert response.headers["Location"] == "/console/"


def test_config_json_tells_the_page_where_the_pool_the_api_and_cognito_are(
    api: LocalApiServer, runtime: LocalStack
) -> None:
    config = requests.get(f"{api.url}/console/config.json", timeout=30).json()

    outputs = runtime.outputs()
    assert config == {
        "region": runtime.region,
        "user_pool_id": outputs["UserPoolId"],
        "client_id": outputs["UserPoolClientId"],
        "api_base_url": api.url,
        "cognito_endpoint": f"{api.url}/cognito-idp/",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/console/%2e%2e/pyproject.toml",
        "/console/..%2fpyproject.toml",
        "/console/.hidden",
        "/console/nested/index.html",
        "/console/missing.js",
    ],
)
def test_nothing_outside_the_console_folder_is_served(api: LocalApiServer, path: str) -> None:
    status, _, body = api.handle("GET", path, {}, None)

    assert (status, body) == (404, b"Not Found")


def test_the_console_files_are_read_only(api: LocalApiServer) -> None:
    assert requests.post(f"{api.url}/console/index.html", data=b"x", timeout=30).status_code == 405


@pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")  # inside pycognito
def test_a_user_signs_in_with_srp_through_the_pass_through_and_the_token_opens_the_api(
    api: LocalApiServer, runtime: LocalStack, tenant: ApiTenant
) -> None:
    tenant.token()  # sets a permanent password: the user is no longer asked for a new one
    outputs = runtime.outputs()
    srp = aws_srp.AWSSRP(
        username=tenant.email,
        password="not-checked-by-the-emulator",
        pool_id=outputs["UserPoolId"],
        client_id=outputs["UserPoolClientId"],
        client=object(),
    )

    started = idp(
        api,
        "InitiateAuth",
        {
            "AuthFlow": "USER_SRP_AUTH",
            "ClientId": outputs["UserPoolClientId"],
            "AuthParameters": srp.get_auth_params(),
        },
    )
    assert started.status_code == 200, started.text
    challenge = started.json()
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    answer = srp.process_challenge(challenge["ChallengeParameters"], {"USERNAME": tenant.email})
    verified = idp(
        api,
        "RespondToAuthChallenge",
        {
            "ChallengeName": "PASSWORD_VERIFIER",
            "ClientId": outputs["UserPoolClientId"],
            "ChallengeResponses": answer,
            "Session": challenge.get("Session", ""),
        },
    )

    assert verified.status_code == 200, verified.text
    id_token = verified.json()["AuthenticationResult"]["IdToken"]
    assert call(api, f"/accounts/{tenant.account_ids[0]}/executions", id_token).status == 200


@pytest.mark.parametrize(
    ("operation", "body", "status", "error"),
    [
        ("AdminInitiateAuth", {"AuthFlow": "ADMIN_USER_PASSWORD_AUTH"}, 400, "UnknownOperationException"),
        ("AdminCreateUser", {"Username": "x"}, 400, "UnknownOperationException"),
        ("SignUp", {"Username": "x", "Password": "y"}, 400, "UnknownOperationException"),
        ("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH"}, 400, "InvalidParameterException"),
        ("InitiateAuth", {"AuthFlow": "ADMIN_USER_PASSWORD_AUTH"}, 400, "InvalidParameterException"),
        ("InitiateAuth", b"not json", 400, "SerializationException"),
        ("InitiateAuth", b"[]", 400, "SerializationException"),
        ("InitiateAuth", {"AuthFlow": "USER_SRP_AUTH", "UserPoolId": "x"}, 400, "InvalidParameterException"),
    ],
)
def test_only_the_calls_of_a_user_sign_in_pass(
    api: LocalApiServer, operation: str, body: Any, status: int, error: str
) -> None:
    response = idp(api, operation, body)

    assert response.status_code == status
    assert response.json()["__type"] == error
    assert "Traceback" not in response.text


def test_cognito_errors_come_back_as_cognito_answers_them(api: LocalApiServer) -> None:
    response = idp(
        api,
        "InitiateAuth",
        {
            "AuthFlow": "USER_SRP_AUTH",
            "ClientId": "no-such-client",
            "AuthParameters": {"USERNAME": "u", "SRP_A": "1"},
        },
    )

    assert response.status_code == 400
    assert response.json()["__type"] == "ResourceNotFoundException"


def test_the_pass_through_answers_only_post(api: LocalApiServer) -> None:
    assert requests.get(f"{api.url}/cognito-idp/", timeout=30).status_code == 405


def test_the_pass_through_answers_any_origin_as_cognitos_endpoint_does(api: LocalApiServer) -> None:
    preflight = requests.options(
        f"{api.url}/cognito-idp/",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target",
        },
        timeout=30,
    )
    answer = idp(api, "SignUp", {"Username": "x"})

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST"
    assert {"content-type", "x-amz-target"} <= set(
        preflight.headers["Access-Control-Allow-Headers"].split(", ")
    )
    assert answer.headers["Access-Control-Allow-Origin"] == "*"  # refusals too, so the page can read them
