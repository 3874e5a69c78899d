"""Demo users get real RS256 ID tokens whose tenant claims come from admin-written attributes."""

from __future__ import annotations

import json

import jwt
import pytest
import requests

from local_runtime.demo_users import create_demo_user, id_token_for, load_demo_tenants
from local_runtime.emulator import LocalStack

pytestmark = pytest.mark.emulator


def test_demo_user_token_verifies_against_the_pool_jwks(runtime: LocalStack) -> None:
    outputs = runtime.outputs()
    cognito = runtime.client("cognito-idp")
    tenant = load_demo_tenants()[1]
    create_demo_user(cognito, outputs["UserPoolId"], tenant)

    token = id_token_for(cognito, outputs["UserPoolId"], outputs["UserPoolClientId"], tenant.user_email)

    jwks = requests.get(f"{runtime.endpoint_url}/{outputs['UserPoolId']}/.well-known/jwks.json", timeout=5)
    key = jwt.PyJWKSet.from_dict(jwks.json())[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key=key.key, algorithms=["RS256"], audience=outputs["UserPoolClientId"])
    assert claims["token_use"] == "id"
    assert claims["custom:tenant_id"] == tenant.tenant_id
    assert json.loads(claims["custom:account_ids"]) == list(tenant.account_ids)
    assert claims["iss"].endswith(outputs["UserPoolId"])


def test_token_with_another_audience_is_rejected(runtime: LocalStack) -> None:
    outputs = runtime.outputs()
    cognito = runtime.client("cognito-idp")
    tenant = load_demo_tenants()[0]
    create_demo_user(cognito, outputs["UserPoolId"], tenant)
    token = id_token_for(cognito, outputs["UserPoolId"], outputs["UserPoolClientId"], tenant.user_email)
    jwks = requests.get(f"{runtime.endpoint_url}/{outputs['UserPoolId']}/.well-known/jwks.json", timeout=5)
    key = jwt.PyJWKSet.from_dict(jwks.json())[jwt.get_unverified_header(token)["kid"]]

    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key=key.key, algorithms=["RS256"], audience="some-other-client")
