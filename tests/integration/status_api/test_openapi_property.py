"""The API against its own OpenAPI document, property-based (schemathesis): for generated requests to
every operation, no server error, and every status, content type, header and body the document promises.
Bounded: a few examples per operation, against the local API server with a genuine ID token."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local_runtime.api_server import LocalApiServer
from local_runtime.template import PROJECT_ROOT
from tests.support.status_api import ORIGIN, ApiTenant, new_tenant

pytestmark = pytest.mark.emulator

# Unexpected methods are tried too, but not TRACE and QUERY: the local HTTP server does not speak them
# (it answers 501 itself), and API Gateway has no such methods either.
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all"},
        "phases": {"coverage": {"unexpected-methods": ["get", "put", "post", "delete", "options", "patch"]}},
    }
)
schema = schemathesis.openapi.from_path(PROJECT_ROOT / "docs" / "openapi.yaml", config=CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def caller(runtime: Any) -> tuple[ApiTenant, str]:
    tenant = new_tenant(runtime)
    return tenant, tenant.token()


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_its_documented_contract(
    case: schemathesis.Case[Any], api: LocalApiServer, caller: tuple[ApiTenant, str]
) -> None:
    _, token = caller
    case.call_and_validate(
        base_url=api.url, headers={"Authorization": token, "Origin": ORIGIN}, checks=CHECKS, timeout=30
    )
