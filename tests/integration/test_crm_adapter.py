"""crm.create_task against the local CRM test server, with tables and secrets from the deployed template.

Every test uses its own tenant, so the session's tables and the module's server are shared without
cleanup. The adapter is built directly with the loopback allow-list the local runtime uses; each request
is a prepared execution holding a real lease, as PrepareExecution leaves it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from execution_core.adapters.crm import CrmTaskAdapter, SecretsManagerSource, build_http_pool
from execution_core.contracts import PreparedExecution, ResolveRequest, ToolCall
from execution_core.errors import (
    AuthError,
    ConfigurationError,
    ConnectorNotAllowedError,
    ConnectorNotConfiguredError,
    CrmExternalIdConflictError,
    DataStoreUnavailableError,
    DownstreamError,
    ErrorClass,
    ErrorCode,
    ExecutionError,
    IdempotencyKeyMismatchError,
    IntentExpiredError,
    InvalidInputError,
    KillSwitchEnabledError,
    LeaseNotHeldError,
    MissingRequiredParameterError,
    RateLimitError,
    ToolTimeoutError,
    classify,
)
from execution_core.models import (
    ConnectorConfig,
    ExternalSystem,
    ExternalWriteStatus,
    TenantConfig,
)
from execution_core.repositories import (
    ConnectorConfigRepository,
    ExecutionAttemptRepository,
    ExternalWriteRepository,
    LedgerRepository,
    TenantRepository,
)
from execution_core.services.artifacts import ArtifactStore
from execution_core.services.authorization import EffectAuthorization
from execution_core.services.deterministic_ids import idempotency_key, lease_id_for
from execution_core.services.effects import EffectState
from execution_core.services.prepare import lease_claim, started_entry
from execution_core.services.switches import SwitchChanges
from execution_core.settings import CrmSettings, load_settings
from local_runtime.crm_server import AfterWrite, CrmTestServer
from local_runtime.emulator import LocalStack
from local_runtime.lambdas import LambdaContext

pytestmark = pytest.mark.emulator

TOKEN = "00DLocalOrg!AQ4AQ" + uuid.uuid4().hex + "Zq9"
LOCAL_ALLOW_LIST = "http://127.0.0.1:*"
READ_TIMEOUT = 0.5
HANDLER_PATH = Path(__file__).resolve().parents[2] / "functions" / "crm_adapter" / "app.py"
PARAMETERS = {"Subject": "Call back about renewal", "Priority": "High", "Description": "Q3"}


@dataclass(frozen=True)
class Account:
    tenant_id: str
    account_id: str
    secret_id: str


@dataclass(frozen=True)
class Tables:
    connectors: ConnectorConfigRepository
    writes: ExternalWriteRepository
    attempts: ExecutionAttemptRepository
    ledger: LedgerRepository
    tenants: TenantRepository
    ddb: Any
    s3: Any
    bucket: str


@pytest.fixture(scope="module")
def server() -> Iterator[CrmTestServer]:
    crm = CrmTestServer(token=TOKEN).start()
    yield crm
    crm.stop()


@pytest.fixture(autouse=True)
def _fresh_server(server: CrmTestServer) -> None:
    server.reset()


@pytest.fixture(scope="module")
def secret_prefix(runtime: LocalStack) -> str:
    """Read the way the function reads it: from the deployed function's environment."""
    return runtime.function("CrmAdapterFunction").environment["CRM_SECRET_PREFIX"]


@pytest.fixture(scope="module")
def tables(runtime: LocalStack) -> Tables:
    ddb = runtime.client("dynamodb")
    name = runtime.physical_name
    return Tables(
        connectors=ConnectorConfigRepository(ddb, name("ConnectorConfigTable")),
        writes=ExternalWriteRepository(ddb, name("ExternalWritesTable")),
        attempts=ExecutionAttemptRepository(ddb, name("ExecutionAttemptsTable")),
        ledger=LedgerRepository(ddb, name("LedgerTable")),
        tenants=TenantRepository(ddb, name("TenantsTable")),
        ddb=ddb,
        s3=runtime.client("s3"),
        bucket=name("ArtifactsBucket"),
    )


@pytest.fixture(scope="module")
def writes(tables: Tables) -> ExternalWriteRepository:
    return tables.writes


@pytest.fixture(scope="module")
def secrets_client(runtime: LocalStack) -> Any:
    return runtime.client("secretsmanager")


@pytest.fixture
def make_adapter(tables: Tables, secrets_client: Any, secret_prefix: str) -> Callable[..., CrmTaskAdapter]:
    def build(
        allow: str = LOCAL_ALLOW_LIST, external_writes: ExternalWriteRepository | None = None
    ) -> CrmTaskAdapter:
        settings = load_settings(
            CrmSettings,
            "crm-adapter-test",
            environ={
                "CRM_ALLOWED_ORIGINS": allow,
                "CRM_SECRET_PREFIX": secret_prefix,
                "CRM_CONNECT_TIMEOUT_SECONDS": "1",
                "CRM_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
            },
        )
        return CrmTaskAdapter(
            connectors=tables.connectors,
            external_writes=external_writes or tables.writes,
            authorization=EffectAuthorization(tables.ddb, tables.tenants, tables.attempts),
            artifacts=ArtifactStore(tables.s3, tables.bucket),
            secrets=SecretsManagerSource(secrets_client),
            http=build_http_pool(settings),
            allowed_origins=settings.origin_patterns(),
            secret_prefix=settings.crm_secret_prefix,
        )

    return build


@pytest.fixture
def adapter(make_adapter: Callable[..., CrmTaskAdapter]) -> CrmTaskAdapter:
    return make_adapter()


@pytest.fixture
def new_account(
    tables: Tables, secrets_client: Any, secret_prefix: str, server: CrmTestServer
) -> Callable[..., Account]:
    """A fresh, enabled tenant with a connector to the test server and its own secret (each optional)."""

    def create(
        *,
        instance_url: str | None = None,
        secret_id: str | None = None,
        secret: str | None = None,
        configure: bool = True,
        external_id_field: str | None = None,
    ) -> Account:
        tenant_id, account_id = f"t-{uuid.uuid4().hex[:12]}", f"acc-{uuid.uuid4().hex[:8]}"
        tables.tenants.put_config(
            TenantConfig(tenant_id=tenant_id, execution_enabled=True, account_ids=[account_id])
        )
        own_secret = f"{secret_prefix}{tenant_id}/{account_id}"
        secrets_client.create_secret(
            Name=own_secret,
            SecretString=secret if secret is not None else json.dumps({"access_token": TOKEN}),
        )
        if configure:
            config = ConnectorConfig(
                tenant_id=tenant_id,
                account_id=account_id,
                connector_type="CRM",
                instance_url=instance_url or server.base_url,
                secret_id=secret_id or own_secret,
            )
            if external_id_field:
                config = config.model_copy(update={"external_id_field": external_id_field})
            tables.connectors.put(config)
        return Account(tenant_id, account_id, own_secret)

    return create


def _prepared(account: Account, parameters: dict[str, Any], expires_in: timedelta) -> PreparedExecution:
    intent_id = f"ai-{uuid.uuid4().hex[:12]}"
    execution_id = f"arn:aws:states:us-east-1:123456789012:execution:bel-local-execution:{uuid.uuid4()}"
    tool = ToolCall(
        tool_name="crm.create_task", tool_schema_version="v60.0", registry_version=1, parameters=parameters
    )
    return PreparedExecution(
        action_intent_id=intent_id,
        tenant_id=account.tenant_id,
        account_id=account.account_id,
        execution_id=execution_id,
        lease_id=lease_id_for(execution_id),
        attempt_count=1,
        action_type="CREATE_CRM_TASK",
        trace_id=f"trace-{uuid.uuid4().hex[:12]}",
        expires_at_epoch=int((datetime.now(UTC) + expires_in).timestamp()),
        started_at=datetime.now(UTC),
        idempotency_key=idempotency_key(
            tenant_id=account.tenant_id,
            account_id=account.account_id,
            action_intent_id=intent_id,
            action_type="CREATE_CRM_TASK",
            tool_name="crm.create_task",
            registry_version=1,
            parameters=parameters,
        ),
        tool=tool,
        adapter_function="arn:aws:lambda:us-east-1:123456789012:function:bel-local-CrmAdapterFunction",
    )


@pytest.fixture
def request_for(tables: Tables) -> Callable[..., PreparedExecution]:
    """A prepared execution that holds a real lease (``lease=False``: none was ever taken)."""

    def build(
        account: Account,
        parameters: dict[str, Any] | None = None,
        *,
        lease: bool = True,
        expires_in: timedelta = timedelta(hours=1),
    ) -> PreparedExecution:
        prepared = _prepared(account, dict(PARAMETERS) if parameters is None else parameters, expires_in)
        if lease:
            result = tables.attempts.acquire_lease(
                lease_claim(prepared, datetime.now(UTC), 600),
                started_entry=tables.ledger.ledger_put_item(started_entry(prepared)),
                holder_running=lambda _arn: True,
            )
            assert result.acquired
        return prepared

    return build


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _artifact_versions(tables: Tables, ref: str) -> list[dict[str, Any]]:
    key = ref.removeprefix(f"s3://{tables.bucket}/")
    versions = tables.s3.list_object_versions(Bucket=tables.bucket, Prefix=key).get("Versions", [])
    return [v for v in versions if v["Key"] == key]


# ---------------------------------------------------------------- success and replay
def test_success_upserts_one_task_by_its_key_and_finalizes_the_write(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    tables: Tables,
) -> None:
    account = new_account()
    request = request_for(
        account, {"Subject": "  Call back about renewal ", "Priority": "High", "Description": "Q3"}
    )

    response = adapter.act(request)

    (task,) = server.tasks
    # Only the three allowed fields, Subject trimmed; the external id is the idempotency key.
    assert task.body == {"Subject": "Call back about renewal", "Priority": "High", "Description": "Q3"}
    assert task.external_id == request.idempotency_key
    assert response.replayed is False
    assert response.tool_run_ref == task.task_id
    [ref] = response.external_object_refs
    assert (ref.system, ref.object_type, ref.object_id) == (ExternalSystem.CRM, "Task", task.task_id)
    assert ref.object_url == f"{server.base_url}/lightning/r/Task/{task.task_id}/view"
    record = tables.writes.get(request.idempotency_key)
    assert record is not None
    assert record.status is ExternalWriteStatus.COMPLETED
    assert record.refs == [ref]
    assert record.raw_response == {"id": task.task_id, "success": True, "errors": [], "created": True}
    assert record.ttl is not None
    assert record.ttl > time.time() + 30 * 86400
    stored = tables.s3.get_object(
        Bucket=tables.bucket, Key=response.raw_response_artifact_ref.split("/", 3)[3]
    )
    assert json.loads(stored["Body"].read()) == record.raw_response


def test_optional_parameters_may_be_absent_or_null(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
) -> None:
    adapter.act(request_for(new_account(), {"Subject": "Only a subject", "Priority": None}))
    assert [task.body for task in server.tasks] == [{"Subject": "Only a subject"}]


def test_repeat_is_replayed_without_calling_the_crm_and_never_overwrites_the_artifact(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    tables: Tables,
) -> None:
    request = request_for(new_account())
    first = adapter.act(request)

    again = adapter.act(request)

    assert server.requests == 1
    assert len(server.tasks) == 1
    assert again.replayed is True
    assert again.external_object_refs == first.external_object_refs
    assert again.raw_response_artifact_ref == first.raw_response_artifact_ref
    assert len(_artifact_versions(tables, first.raw_response_artifact_ref)) == 1


# ---------------------------------------------------------------- re-authorization right before the call
def test_a_global_stop_means_no_request_and_no_reservation(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    tables: Tables,
) -> None:
    request = request_for(new_account())
    switches = SwitchChanges(tables.ddb, tables.tenants, tables.ledger)
    switches.set_global_stop(True, by="test", reason="drill", now=datetime.now(UTC))
    try:
        with pytest.raises(KillSwitchEnabledError) as info:
            adapter.act(request)
    finally:
        switches.set_global_stop(False, by="test", reason="drill over", now=datetime.now(UTC))
    assert "global" in str(info.value)
    assert server.requests == 0
    assert tables.writes.get(request.idempotency_key) is None


def test_an_effect_that_exists_is_replayed_even_under_a_stop(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    tables: Tables,
) -> None:
    """The truth wins: the task exists, so a retry reports it instead of calling it cancelled."""
    account = new_account()
    request = request_for(account)
    first = adapter.act(request)
    config = tables.tenants.get_config(account.tenant_id)
    assert config is not None
    SwitchChanges(tables.ddb, tables.tenants, tables.ledger).set_tenant_stop(
        config, True, by="test", reason="tenant stop", now=datetime.now(UTC)
    )

    again = adapter.act(request)

    assert again.replayed is True
    assert again.external_object_refs == first.external_object_refs
    assert server.requests == 1


def test_no_lease_means_no_request(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    tables: Tables,
) -> None:
    request = request_for(new_account(), lease=False)
    with pytest.raises(LeaseNotHeldError):
        adapter.act(request)
    assert server.requests == 0
    assert tables.writes.get(request.idempotency_key) is None


def test_altered_parameters_are_refused_not_replayed(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
) -> None:
    request = request_for(new_account())
    adapter.act(request)
    forged = request.model_copy(
        update={"tool": request.tool.model_copy(update={"parameters": {"Subject": "Wire the money"}})}
    )
    with pytest.raises(IdempotencyKeyMismatchError):
        adapter.act(forged)
    rekeyed = forged.model_copy(update={"idempotency_key": forged.expected_idempotency_key()})
    with pytest.raises(LeaseNotHeldError):  # the stored lease holds the approved key, not this one
        adapter.act(rekeyed)
    assert server.requests == 1
    assert [t.body["Subject"] for t in server.tasks] == ["Call back about renewal"]


def test_an_expired_intent_makes_no_request(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
) -> None:
    request = request_for(new_account(), expires_in=timedelta(seconds=-1))
    with pytest.raises(IntentExpiredError):
        adapter.act(request)
    assert server.requests == 0


# ---------------------------------------------------------------- the CRM answers with an error
@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_is_an_auth_error_and_releases_the_reservation(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    status: int,
) -> None:
    request = request_for(new_account())
    server.fail_next(status)

    with pytest.raises(AuthError) as info:
        adapter.act(request)

    assert classify(info.value) == (ErrorClass.AUTH, ErrorCode.AUTH_FAILED, False)
    assert f"HTTP {status}" in str(info.value)
    assert writes.get(request.idempotency_key) is None
    assert server.tasks == []


def test_a_wrong_token_is_refused_by_the_crm_as_an_auth_error(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
) -> None:
    account = new_account(secret=json.dumps({"access_token": "not-the-right-token"}))
    with pytest.raises(AuthError):
        adapter.act(request_for(account))
    assert server.requests == 1
    assert server.tasks == []


def test_rate_limit_is_retryable_and_a_retry_writes_once(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
) -> None:
    request = request_for(new_account())
    server.fail_next(429)

    with pytest.raises(RateLimitError) as info:
        adapter.act(request)
    assert info.value.retryable is True

    response = adapter.act(request)
    assert response.replayed is False
    assert len(server.tasks) == 1


def test_server_error_keeps_the_reservation_and_the_retry_upserts_once(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    """A 5xx may or may not have written: the reservation stays; repeating the upsert is safe."""
    request = request_for(new_account())
    server.fail_next(500)

    with pytest.raises(DownstreamError) as info:
        adapter.act(request)
    assert classify(info.value) == (ErrorClass.DOWNSTREAM, ErrorCode.DOWNSTREAM_ERROR, True)
    pending = writes.get(request.idempotency_key)
    assert pending is not None
    assert pending.status is ExternalWriteStatus.PENDING

    response = adapter.act(request)
    third = adapter.act(request)

    assert [task.task_id for task in server.tasks] == [response.tool_run_ref]
    assert third.replayed is True
    assert server.upserts == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, InvalidInputError), (408, DownstreamError), (404, ConnectorNotConfiguredError)],
)
def test_definite_refusals_release_the_reservation(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    status: int,
    error: type[ExecutionError],
) -> None:
    request = request_for(new_account())
    server.fail_next(status)

    with pytest.raises(error):
        adapter.act(request)

    assert writes.get(request.idempotency_key) is None
    assert server.tasks == []


def test_an_unknown_external_id_field_is_a_configuration_problem(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
) -> None:
    request = request_for(new_account(external_id_field="No_Such_Field__c"))
    with pytest.raises(ConnectorNotConfiguredError) as info:
        adapter.act(request)
    assert "external id field" in str(info.value)
    assert server.tasks == []


def test_several_records_with_our_key_are_a_conflict_left_in_doubt(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    request = request_for(new_account())
    server.add_duplicate(request.idempotency_key)
    server.add_duplicate(request.idempotency_key)

    with pytest.raises(CrmExternalIdConflictError) as info:
        adapter.act(request)

    assert info.value.retryable is False
    record = writes.get(request.idempotency_key)
    assert record is not None
    assert record.status is ExternalWriteStatus.PENDING  # records exist: never "nothing happened"
    assert len(server.tasks) == 2


# ---------------------------------------------------------------- the write happened, the answer did not come
@pytest.mark.parametrize("how", [AfterWrite.STALL, AfterWrite.DROP])
def test_a_lost_answer_keeps_the_reservation_and_the_retry_finds_the_same_task(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    how: AfterWrite,
) -> None:
    request = request_for(new_account())
    server.write_then(how, seconds=READ_TIMEOUT + 1.0)

    started = time.monotonic()
    with pytest.raises(ToolTimeoutError) as info:
        adapter.act(request)
    assert time.monotonic() - started < READ_TIMEOUT + 0.9  # the pool did not retry behind our back
    assert classify(info.value) == (ErrorClass.TIMEOUT, ErrorCode.TIMEOUT, True)
    record = writes.get(request.idempotency_key)
    assert record is not None
    assert record.status is ExternalWriteStatus.PENDING
    (task,) = server.tasks  # the write did happen

    response = adapter.act(request)  # the retry Step Functions makes

    assert response.tool_run_ref == task.task_id
    assert len(server.tasks) == 1
    assert task.updates == 1  # the second upsert matched the first task
    completed = writes.get(request.idempotency_key)
    assert completed is not None
    assert completed.status is ExternalWriteStatus.COMPLETED


def test_a_created_answer_that_is_not_json_is_settled_by_a_lookup(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
) -> None:
    request = request_for(new_account())
    server.write_then(AfterWrite.NOT_JSON)

    response = adapter.act(request)

    (task,) = server.tasks
    assert response.tool_run_ref == task.task_id
    assert server.requests == 2  # the upsert and the lookup by external id


def test_an_update_answered_without_a_body_is_settled_by_a_lookup(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    """API versions before 46.0 answer an update 204 No Content."""
    request = request_for(new_account())
    server.fail_next(500)
    with pytest.raises(DownstreamError):
        adapter.act(request)
    server.legacy_update = True
    server.add_duplicate("unrelated")  # other records do not disturb the lookup
    server.write_then(AfterWrite.STALL, seconds=READ_TIMEOUT + 1.0)
    with pytest.raises(ToolTimeoutError):
        adapter.act(request)

    response = adapter.act(request)

    mine = server.tasks_with(request.idempotency_key)
    assert [t.task_id for t in mine] == [response.tool_run_ref]


@pytest.mark.parametrize(("status", "error"), [(429, RateLimitError), (400, InvalidInputError)])
def test_a_refusal_after_a_lost_answer_finds_the_task_instead_of_failing(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    status: int,
    error: type[ExecutionError],
) -> None:
    """The first upsert wrote the task and its answer was lost; the retry is refused. The refusal proves
    only that the retry wrote nothing: the task exists, so the write is settled by it, not released."""
    request = request_for(new_account())
    server.write_then(AfterWrite.DROP)
    with pytest.raises(ToolTimeoutError):
        adapter.act(request)
    (task,) = server.tasks
    server.fail_next(status)

    response = adapter.act(request)

    assert response.tool_run_ref == task.task_id
    assert len(server.tasks) == 1
    record = writes.get(request.idempotency_key)
    assert record is not None
    assert (record.status, record.reservations) == (ExternalWriteStatus.COMPLETED, 2)
    assert record.raw_response == {"id": task.task_id, "success": True, "errors": [], "looked_up": True}
    # The same refusal on a first attempt releases the write (nothing can have been written).
    fresh = request_for(new_account())
    server.fail_next(status)
    with pytest.raises(error):
        adapter.act(fresh)
    assert writes.get(fresh.idempotency_key) is None


def test_a_refusal_after_a_lost_answer_that_cannot_be_looked_up_stays_in_doubt_until_resolved(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    request = request_for(new_account())
    server.write_then(AfterWrite.DROP)
    with pytest.raises(ToolTimeoutError):
        adapter.act(request)
    (task,) = server.tasks
    token, server.token = server.token, "revoked"  # the credential is revoked between the attempts
    try:
        with pytest.raises(AuthError):
            adapter.act(request)
        record = writes.get(request.idempotency_key)
        assert record is not None
        assert (record.status, record.reservations) == (ExternalWriteStatus.PENDING, 2)  # in doubt, kept
    finally:
        server.token = token
    resolve = ResolveRequest(
        tenant_id=request.tenant_id,
        account_id=request.account_id,
        action_intent_id=request.action_intent_id,
        action_type=request.action_type,
        idempotency_key=request.idempotency_key,
        tool_name=request.tool.tool_name,
    )

    assert adapter.resolve(resolve) is EffectState.PRESENT

    completed = writes.get(request.idempotency_key)
    assert completed is not None
    assert completed.status is ExternalWriteStatus.COMPLETED
    assert [ref.object_id for ref in completed.refs or []] == [task.task_id]


def test_a_lookup_honours_the_action_type_switch(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    tables: Tables,
) -> None:
    account = new_account()
    request = request_for(account)
    server.write_then(AfterWrite.DROP)
    with pytest.raises(ToolTimeoutError):
        adapter.act(request)
    requests = server.requests
    config = tables.tenants.get_config(account.tenant_id)
    assert config is not None
    tables.tenants.put_config(config.model_copy(update={"disabled_action_types": [request.action_type]}))
    resolve = ResolveRequest(
        tenant_id=request.tenant_id,
        account_id=request.account_id,
        action_intent_id=request.action_intent_id,
        action_type=request.action_type,
        idempotency_key=request.idempotency_key,
        tool_name=request.tool.tool_name,
    )

    assert adapter.resolve(resolve) is EffectState.IN_DOUBT
    assert server.requests == requests  # a stopped scope is not even looked up


class _FailingFinalize(ExternalWriteRepository):
    def finalize(self, *args: Any, **kwargs: Any) -> Any:
        raise DataStoreUnavailableError("throttled")


def test_a_written_task_that_cannot_be_recorded_is_found_again_by_the_retry(
    make_adapter: Callable[..., CrmTaskAdapter],
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    runtime: LocalStack,
) -> None:
    failing = make_adapter(external_writes=_FailingFinalize(runtime.client("dynamodb"), writes.table_name))
    request = request_for(new_account())

    with pytest.raises(DataStoreUnavailableError):
        failing.act(request)
    record = writes.get(request.idempotency_key)
    assert record is not None
    assert record.status is ExternalWriteStatus.PENDING

    response = adapter.act(request)

    assert [t.task_id for t in server.tasks] == [response.tool_run_ref]


# ---------------------------------------------------------------- transport and connector refusals
def test_connection_refused_is_a_downstream_error_and_releases(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    writes: ExternalWriteRepository,
) -> None:
    request = request_for(new_account(instance_url=f"http://127.0.0.1:{closed_port()}"))

    with pytest.raises(DownstreamError) as info:
        adapter.act(request)

    assert type(info.value) is DownstreamError
    assert info.value.retryable is True
    assert writes.get(request.idempotency_key) is None


def test_missing_connector_config(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    request = request_for(new_account(configure=False))

    with pytest.raises(ConnectorNotConfiguredError) as info:
        adapter.act(request)

    assert classify(info.value) == (ErrorClass.VALIDATION, ErrorCode.CONNECTOR_NOT_CONFIGURED, False)
    assert server.requests == 0
    assert writes.get(request.idempotency_key) is None


def test_instance_url_off_the_allow_list_is_refused(
    make_adapter: Callable[..., CrmTaskAdapter],
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    request = request_for(new_account())  # points at the loopback test server
    production_like = make_adapter(allow="https://*.my.salesforce.com")

    with pytest.raises(ConnectorNotAllowedError) as info:
        production_like.act(request)

    assert classify(info.value) == (ErrorClass.VALIDATION, ErrorCode.CONNECTOR_NOT_ALLOWED, False)
    assert server.requests == 0
    assert writes.get(request.idempotency_key) is None


def test_another_tenants_secret_is_refused(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
) -> None:
    victim = new_account()
    attacker = new_account(secret_id=victim.secret_id)  # the config names a secret that does exist

    with pytest.raises(ConnectorNotAllowedError):
        adapter.act(request_for(attacker))

    assert server.requests == 0


def test_a_secret_outside_the_prefix_is_refused(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
) -> None:
    with pytest.raises(ConnectorNotAllowedError):
        adapter.act(request_for(new_account(secret_id="other-stack/crm/shared")))
    assert server.requests == 0


@pytest.mark.parametrize(
    "secret",
    ["not json", json.dumps({"token": TOKEN}), json.dumps({"access_token": "a b"})],
    ids=["not-json", "wrong-field-name", "token-with-space"],  # TOKEN is random: ids must not carry it
)
def test_unusable_secret_is_not_configured(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    secret: str,
) -> None:
    request = request_for(new_account(secret=secret))

    with pytest.raises(ConnectorNotConfiguredError) as info:
        adapter.act(request)

    assert TOKEN not in str(info.value)
    assert server.requests == 0
    assert writes.get(request.idempotency_key) is None


def test_missing_secret_is_not_configured(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    secrets_client: Any,
    server: CrmTestServer,
) -> None:
    account = new_account()
    secrets_client.delete_secret(SecretId=account.secret_id, ForceDeleteWithoutRecovery=True)

    with pytest.raises(ConnectorNotConfiguredError):
        adapter.act(request_for(account))
    assert server.requests == 0


# ---------------------------------------------------------------- malformed requests write nothing
@pytest.mark.parametrize(
    "case",
    [
        ({"tool_name": "crm.delete_task"}, InvalidInputError),
        ({"tool_name": "internal.create_task"}, InvalidInputError),
        ({"parameters": {"Priority": "High"}}, MissingRequiredParameterError),
        ({"parameters": {"Subject": "   "}}, InvalidInputError),
        ({"parameters": {"Subject": 42}}, InvalidInputError),
        ({"parameters": {"Subject": "x", "OwnerId": "005000000000001"}}, InvalidInputError),
        ({"parameters": {"Subject": "x", "Priority": ["High"]}}, InvalidInputError),
        ({"parameters": {"Subject": "x" * 256}}, InvalidInputError),
    ],
)
def test_malformed_request_is_invalid_input_and_writes_nothing(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    case: tuple[dict[str, Any], type[ExecutionError]],
) -> None:
    overrides, error = case
    base = request_for(new_account(), overrides.get("parameters"))
    tool = base.tool.model_copy(update={k: v for k, v in overrides.items() if k == "tool_name"})
    request = base.model_copy(update={"tool": tool})
    request = request.model_copy(update={"idempotency_key": request.expected_idempotency_key()})

    with pytest.raises(error) as info:
        adapter.act(request)

    assert type(info.value) is error
    assert info.value.error_class is ErrorClass.VALIDATION
    assert writes.get(request.idempotency_key) is None
    assert server.requests == 0


# ---------------------------------------------------------------- the token stays secret
def test_the_token_never_appears_in_errors_or_logs(
    make_adapter: Callable[..., CrmTaskAdapter],
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="execution_core")
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.INFO)
    adapter = make_adapter()
    raised: list[BaseException] = []

    def attempt(request: PreparedExecution) -> None:
        try:
            adapter.act(request)
        except ExecutionError as exc:
            raised.append(exc)

    for status in (401, 403, 429, 500, 400):
        server.fail_next(status)
        attempt(request_for(new_account()))
    server.write_then(AfterWrite.STALL, seconds=READ_TIMEOUT + 0.5)
    attempt(request_for(new_account()))
    attempt(request_for(new_account(secret_id=new_account().secret_id)))
    attempt(request_for(new_account(secret=json.dumps({"access_token": TOKEN, "extra": 1}) + "x")))
    adapter.act(request_for(new_account()))

    assert [type(exc).__name__ for exc in raised] == [
        "AuthError",
        "AuthError",
        "RateLimitError",
        "DownstreamError",
        "InvalidInputError",
        "ToolTimeoutError",
        "ConnectorNotAllowedError",
        "ConnectorNotConfiguredError",
    ]
    texts = [str(exc) for exc in raised] + [repr(exc) for exc in raised]
    texts += [repr(exc.__cause__) + repr(exc.__context__) for exc in raised]
    assert all(TOKEN not in text for text in texts)
    assert all("Call back about renewal" not in text for text in texts)  # nor the request body
    crm_bodies = ("errorCode", "INVALID_SESSION_ID", "Session expired", "Request limit", "Server error")
    assert all(marker not in text for text in texts for marker in crm_bodies)  # nor the response body
    assert caplog.records, "the adapter is expected to log its outcomes"
    assert TOKEN not in caplog.text
    captured = capsys.readouterr()
    assert TOKEN not in captured.out
    assert TOKEN not in captured.err


# ---------------------------------------------------------------- the handler module
def _load_handler(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HANDLER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


@pytest.fixture
def function_env(runtime: LocalStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = dict(runtime.function("CrmAdapterFunction").environment)
    env["CRM_ALLOWED_ORIGINS"] = LOCAL_ALLOW_LIST
    # A logger of its own: Powertools keeps one handler per service name, bound to this test's stdout.
    env["POWERTOOLS_SERVICE_NAME"] = f"crm-adapter-test-{uuid.uuid4().hex[:8]}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_handler_fails_fast_naming_a_missing_variable(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_SECRET_PREFIX")

    with pytest.raises(ConfigurationError) as info:
        _load_handler(f"crm_app_missing_{uuid.uuid4().hex}")

    assert "CRM_SECRET_PREFIX" in str(info.value)
    assert function_env["CONNECTOR_CONFIG_TABLE_NAME"] not in str(info.value)


def test_handler_refuses_a_malformed_allow_list(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_ALLOWED_ORIGINS", "https://*.com")

    with pytest.raises(ConfigurationError) as info:
        _load_handler(f"crm_app_bad_allow_{uuid.uuid4().hex}")

    assert "invalid environment variable CRM_ALLOWED_ORIGINS" in str(info.value)


def test_handler_creates_a_task_from_a_lambda_payload(
    function_env: dict[str, str],
    new_account: Callable[..., Account],
    request_for: Callable[..., PreparedExecution],
    server: CrmTestServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    module = _load_handler(f"crm_app_ok_{uuid.uuid4().hex}")
    request = request_for(new_account())
    context = LambdaContext(
        function_name="crm-adapter",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:local",
        timeout_seconds=60,
    )

    result = module.lambda_handler(request.model_dump(mode="json"), context)

    assert result["tool_run_ref"] == server.tasks[0].task_id
    assert result["replayed"] is False
    assert json.loads(json.dumps(result)) == result
    with pytest.raises(InvalidInputError):
        module.lambda_handler({"tool": {"tool_name": "crm.create_task"}}, context)
    out = capfd.readouterr()
    assert request.action_intent_id in out.out  # correlation keys are on the log lines
    assert TOKEN not in out.out + out.err
