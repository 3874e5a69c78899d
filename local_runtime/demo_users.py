"""Demo identities in the emulator's Cognito pool: one user per sample tenant, real RS256 ID tokens.

The custom attributes are written with the administrator API, as in production, where the app client
cannot write them. Passwords are random per call and never stored: a token is obtained by setting a
fresh password and signing in with it, which works against any running local runtime.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_TENANTS_PATH = Path(__file__).resolve().parent / "samples" / "tenants.json"


@dataclass(frozen=True)
class DemoTenant:
    tenant_id: str
    display_name: str
    user_email: str
    account_ids: tuple[str, ...]


def load_demo_tenants(path: Path = SAMPLE_TENANTS_PATH) -> list[DemoTenant]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        DemoTenant(
            tenant_id=t["tenant_id"],
            display_name=t["display_name"],
            user_email=t["user_email"],
            account_ids=tuple(t["account_ids"]),
        )
        for t in data["tenants"]
    ]


def _strong_password() -> str:
    """A throwaway password that satisfies the template's password policy (all classes, 24 chars)."""
    alphabet = string.ascii_letters + string.digits + "!#%+-_=?"
    core = "".join(secrets.choice(alphabet) for _ in range(20))
    return (
        core
        + secrets.choice(string.ascii_uppercase)
        + secrets.choice(string.ascii_lowercase)
        + (secrets.choice(string.digits) + secrets.choice("!#%+-_=?"))
    )


def create_demo_user(cognito: Any, user_pool_id: str, tenant: DemoTenant) -> None:
    """Create (or update) the tenant's demo user with its tenant and account grants."""
    attributes = [
        {"Name": "email", "Value": tenant.user_email},
        {"Name": "email_verified", "Value": "true"},
        {"Name": "custom:tenant_id", "Value": tenant.tenant_id},
        {"Name": "custom:account_ids", "Value": json.dumps(list(tenant.account_ids))},
    ]
    try:
        cognito.admin_create_user(
            UserPoolId=user_pool_id,
            Username=tenant.user_email,
            UserAttributes=attributes,
            MessageAction="SUPPRESS",
        )
    except cognito.exceptions.UsernameExistsException:
        cognito.admin_update_user_attributes(
            UserPoolId=user_pool_id, Username=tenant.user_email, UserAttributes=attributes[2:]
        )
        return
    # Confirmed with a password nobody knows, so that a console sign-in (SRP) is not asked for a new
    # one; the emulator's Cognito does not check SRP passwords (ADR 0011).
    cognito.admin_set_user_password(
        UserPoolId=user_pool_id, Username=tenant.user_email, Password=_strong_password(), Permanent=True
    )


def id_token_for(cognito: Any, user_pool_id: str, client_id: str, username: str) -> str:
    """Sign the user in through the app client and return the ID token Cognito issued."""
    password = _strong_password()
    cognito.admin_set_user_password(
        UserPoolId=user_pool_id, Username=username, Password=password, Permanent=True
    )
    result = cognito.admin_initiate_auth(
        UserPoolId=user_pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return str(result["AuthenticationResult"]["IdToken"])
