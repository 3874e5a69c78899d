"""The auth matrix through the local API server, with real ID tokens from the emulator's Cognito pool.

Crafted tokens are signed either with a locally generated RSA key (bad signature) or with the pool's
own signing key (moto ships it), so each case fails exactly one check: expiry, audience, issuer, use.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from execution_core.models import AttemptStatus, OutcomeStatus
from local_runtime import moto_hooks
from local_runtime.api_server import LocalApiServer
from local_runtime.demo_users import id_token_for
from local_runtime.emulator import LocalStack
from tests.support.status_api import (
    FUNCTION,
    ORIGIN,
    ApiTenant,
    Records,
    call,
    create_user,
    new_tenant,
)

pytestmark = pytest.mark.emulator

UNAUTHORIZED = {"error": "Unauthorized"}
FORBIDDEN = {"error": "Forbidden"}
NOT_FOUND = {"error": "Execution not found"}


def _pool_signing_key() -> Any:
    """The private key moto's Cognito signs every ID token with (kid "dummy")."""
    return jwt.PyJWK.from_dict(moto_hooks.cognito_signing_jwk()).key


def _claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _sign(claims: dict[str, Any], key: Any, kid: str = moto_hooks.COGNITO_SIGNING_KEY_ID) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _status_path(tenant: ApiTenant, intent_id: str = "ai-unknown") -> str:
    return f"/executions/{intent_id}/status?account_id={tenant.account_ids[0]}"


def test_control_a_genuine_token_reaches_the_function(api: LocalApiServer, tenant: ApiTenant) -> None:
    reply = call(api, _status_path(tenant), tenant.token())
    assert (reply.status, reply.body) == (404, NOT_FOUND)


def test_crafted_tokens_signed_with_the_pool_key_pass_when_valid(
    api: LocalApiServer, tenant: ApiTenant
) -> None:
    """The crafting itself is sound: re-signing a genuine token's claims with the pool key is accepted,
    so the rejections below are caused by the one claim each case changes."""
    claims = _claims_of(tenant.token())
    reply = call(api, _status_path(tenant), _sign(claims, _pool_signing_key()))
    assert reply.status == 404


def test_no_token_is_401_with_cors_and_never_reaches_the_function(
    api: LocalApiServer, tenant: ApiTenant, runtime: LocalStack
) -> None:
    function = runtime.function(FUNCTION)
    before = function.invocations
    reply = call(api, _status_path(tenant))
    assert (reply.status, reply.body) == (401, UNAUTHORIZED)
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert function.invocations == before


@pytest.mark.parametrize(
    "case",
    [
        "bad_signature",
        "tampered_claims",
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "access_token",
        "garbage",
    ],
)
def test_rejected_tokens_are_401(api: LocalApiServer, tenant: ApiTenant, case: str) -> None:
    genuine = tenant.token()
    claims = _claims_of(genuine)
    pool_key = _pool_signing_key()
    now = int(time.time())
    if case == "bad_signature":
        local_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = _sign(claims, local_key)
    elif case == "tampered_claims":
        header, _, signature = genuine.split(".")
        forged = {**claims, "custom:tenant_id": "t-someone-else"}
        payload = jwt.utils.base64url_encode(json.dumps(forged).encode()).decode()
        token = f"{header}.{payload}.{signature}"
    elif case == "expired":
        token = _sign({**claims, "iat": now - 7200, "exp": now - 3600}, pool_key)
    elif case == "wrong_audience":
        token = _sign({**claims, "aud": "another-app-client"}, pool_key)
    elif case == "wrong_issuer":
        token = _sign(
            {**claims, "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"}, pool_key
        )
    elif case == "access_token":
        token = _sign({**claims, "token_use": "access"}, pool_key)
    else:
        token = "not.a.jwt"
    rejected_before = len(api.rejected_tokens)

    reply = call(api, _status_path(tenant), token)

    assert (reply.status, reply.body) == (401, UNAUTHORIZED)
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert len(api.rejected_tokens) == rejected_before + 1


def test_account_not_in_claims_is_403(api: LocalApiServer, tenant: ApiTenant, records: Records) -> None:
    other = new_tenant(tenant.stack)
    records.finished(other.tenant_id, other.account_ids[0], "ai-theirs", OutcomeStatus.SUCCEEDED)
    path = f"/executions/ai-theirs/status?account_id={other.account_ids[0]}"
    reply = call(api, path, tenant.token())
    assert (reply.status, reply.body) == (403, FORBIDDEN)
    listing = call(api, f"/accounts/{other.account_ids[0]}/executions", tenant.token())
    assert (listing.status, listing.body) == (403, FORBIDDEN)


def test_another_tenants_id_is_the_same_404_as_an_unknown_id(
    api: LocalApiServer, runtime: LocalStack, records: Records
) -> None:
    """Both tenants are granted an account with the same id; B's execution must be invisible to A, with
    exactly the answer A gets for an id that exists nowhere."""
    shared_account = f"acct-shared-{uuid.uuid4().hex[:6]}"
    a = new_tenant(runtime, accounts=[shared_account])
    b = new_tenant(runtime, accounts=[shared_account])
    intent_id = f"ai-{uuid.uuid4().hex[:10]}"
    records.intent(b.tenant_id, shared_account, intent_id)
    records.finished(b.tenant_id, shared_account, intent_id, OutcomeStatus.SUCCEEDED)
    assert call(api, f"/executions/{intent_id}/status?account_id={shared_account}", b.token()).status == 200

    foreign = call(api, f"/executions/{intent_id}/status?account_id={shared_account}", a.token())
    unknown = call(api, f"/executions/ai-never-existed/status?account_id={shared_account}", a.token())

    assert (foreign.status, foreign.body) == (unknown.status, unknown.body) == (404, NOT_FOUND)
    assert {k.lower() for k in foreign.headers} - {"date"} == {k.lower() for k in unknown.headers} - {"date"}
    assert call(api, f"/accounts/{shared_account}/executions", a.token()).body == {"executions": []}


def test_identity_headers_and_query_parameters_are_never_trusted(
    api: LocalApiServer, runtime: LocalStack, records: Records
) -> None:
    a = new_tenant(runtime)
    b = new_tenant(runtime)
    records.finished(b.tenant_id, b.account_ids[0], "ai-b-only", OutcomeStatus.SUCCEEDED)
    path = f"/executions/ai-b-only/status?account_id={b.account_ids[0]}&tenant_id={b.tenant_id}"
    # A asks for B's account with B's tenant in a header and the query: A's claims still decide.
    reply = call(
        api, path, a.token(), **{"x-tenant-id": b.tenant_id, "X-Account-Ids": json.dumps(b.account_ids)}
    )
    assert (reply.status, reply.body) == (403, FORBIDDEN)


@pytest.mark.parametrize(
    "attributes",
    [
        {"custom:account_ids": '["acct-1"]'},  # no tenant claim at all
        {"custom:tenant_id": "bad#tenant", "custom:account_ids": '["acct-1"]'},
        {"custom:tenant_id": "t-ok", "custom:account_ids": "not json"},
        {"custom:tenant_id": "t-ok", "custom:account_ids": '{"acct-1": true}'},
        {"custom:tenant_id": "t-ok", "custom:account_ids": '["acct-1", 7]'},
        {"custom:tenant_id": "t-ok", "custom:account_ids": '["acct#1"]'},
    ],
    ids=[
        "no-tenant",
        "tenant-with-separator",
        "accounts-not-json",
        "accounts-object",
        "accounts-number",
        "bad-id",
    ],
)
def test_malformed_claims_fail_closed_with_403(
    api: LocalApiServer, runtime: LocalStack, attributes: dict[str, str]
) -> None:
    email = f"malformed-{uuid.uuid4().hex[:8]}@example.com"
    create_user(runtime, email, attributes)
    outputs = runtime.outputs()
    token = id_token_for(
        runtime.client("cognito-idp"), outputs["UserPoolId"], outputs["UserPoolClientId"], email
    )
    for path in ("/executions/ai-1/status?account_id=acct-1", "/accounts/acct-1/executions"):
        reply = call(api, path, token)
        assert (reply.status, reply.body) == (403, FORBIDDEN), path
        assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_without_an_account_claim_membership_decides(
    api: LocalApiServer, runtime: LocalStack, records: Records
) -> None:
    member = new_tenant(runtime, account_claim=False)
    records.members(member.tenant_id, member.account_ids[0])  # only the first is a member
    records.attempt(member.tenant_id, member.account_ids[0], "ai-running", AttemptStatus.RUNNING)
    token = member.token()
    assert "custom:account_ids" not in _claims_of(token)

    ok = call(api, f"/executions/ai-running/status?account_id={member.account_ids[0]}", token)
    assert (ok.status, ok.body["status"]) == (200, "RUNNING")
    assert call(api, f"/accounts/{member.account_ids[0]}/executions", token).status == 200
    denied = call(api, f"/executions/ai-running/status?account_id={member.account_ids[1]}", token)
    assert (denied.status, denied.body) == (403, FORBIDDEN)
    assert call(api, f"/accounts/{member.account_ids[1]}/executions", token).status == 403
