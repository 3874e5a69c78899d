"""crm.create_task against the local CRM test server, with tables and secrets from the deployed template.

Every test uses its own tenant, so the session's tables and the module's server are shared without
cleanup. The adapter is built directly with the loopback allow-list the local runtime uses.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from execution_core.adapters.crm import CrmSettings, CrmTaskAdapter, SecretsManagerSource, build_http_pool
from execution_core.contracts import AdapterRequest
from execution_core.errors import (
    AuthError,
    ConfigurationError,
    ConnectorNotAllowedError,
    ConnectorNotConfiguredError,
    DataStoreUnavailableError,
    DownstreamError,
    ErrorClass,
    ErrorCode,
    ExecutionError,
    ExternalWriteInDoubtError,
    InvalidInputError,
    MissingRequiredParameterError,
    RateLimitError,
    ToolTimeoutError,
    classify,
)
from execution_core.models import ConnectorConfig, ExternalSystem, ExternalWriteStatus
from execution_core.repositories import ConnectorConfigRepository, ExternalWriteRepository
from execution_core.settings import load_settings
from local_runtime.crm_server import CrmTestServer
from local_runtime.emulator import LocalStack
from local_runtime.lambdas import LambdaContext

pytestmark = pytest.mark.emulator

TOKEN = "00DLocalOrg!AQ4AQ" + uuid.uuid4().hex + "Zq9"
LOCAL_ALLOW_LIST = "http://127.0.0.1:*"
READ_TIMEOUT = 0.5
HANDLER_PATH = Path(__file__).resolve().parents[2] / "functions" / "crm_adapter" / "app.py"


@dataclass(frozen=True)
class Account:
    tenant_id: str
    account_id: str
    secret_id: str


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
def connectors(runtime: LocalStack) -> ConnectorConfigRepository:
    return ConnectorConfigRepository(
        runtime.client("dynamodb"), runtime.physical_name("ConnectorConfigTable")
    )


@pytest.fixture(scope="module")
def writes(runtime: LocalStack) -> ExternalWriteRepository:
    return ExternalWriteRepository(runtime.client("dynamodb"), runtime.physical_name("ExternalWritesTable"))


@pytest.fixture(scope="module")
def secrets_client(runtime: LocalStack) -> Any:
    return runtime.client("secretsmanager")


@pytest.fixture
def make_adapter(
    connectors: ConnectorConfigRepository,
    writes: ExternalWriteRepository,
    secrets_client: Any,
    secret_prefix: str,
) -> Callable[..., CrmTaskAdapter]:
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
            connectors=connectors,
            external_writes=external_writes or writes,
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
    connectors: ConnectorConfigRepository, secrets_client: Any, secret_prefix: str, server: CrmTestServer
) -> Callable[..., Account]:
    """A fresh tenant with a connector to the test server and its own secret (each part optional)."""

    def create(
        *,
        instance_url: str | None = None,
        secret_id: str | None = None,
        secret: str | None = None,
        configure: bool = True,
    ) -> Account:
        tenant_id, account_id = f"t-{uuid.uuid4().hex[:12]}", f"acc-{uuid.uuid4().hex[:8]}"
        own_secret = f"{secret_prefix}{tenant_id}/{account_id}"
        secrets_client.create_secret(
            Name=own_secret,
            SecretString=secret if secret is not None else json.dumps({"access_token": TOKEN}),
        )
        if configure:
            connectors.put(
                ConnectorConfig(
                    tenant_id=tenant_id,
                    account_id=account_id,
                    connector_type="CRM",
                    instance_url=instance_url or server.base_url,
                    secret_id=secret_id or own_secret,
                )
            )
        return Account(tenant_id, account_id, own_secret)

    return create


def request_for(account: Account, **overrides: Any) -> AdapterRequest:
    data: dict[str, Any] = {
        "tool_name": "crm.create_task",
        "tool_schema_version": "v60.0",
        "parameters": {"Subject": "  Call back about renewal ", "Priority": "High", "Description": "Q3"},
        "idempotency_key": f"idem-{uuid.uuid4().hex}",
        "tenant_id": account.tenant_id,
        "account_id": account.account_id,
        "action_intent_id": f"ai-{uuid.uuid4().hex[:12]}",
        "attempt_count": 1,
        "trace_id": f"trace-{uuid.uuid4().hex[:12]}",
    }
    data.update(overrides)
    return AdapterRequest.model_validate(data)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- success and replay
def test_success_creates_one_task_and_finalizes_the_reservation(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    account = new_account()
    request = request_for(account)

    response = adapter.create_task(request)

    assert len(server.tasks) == 1
    task = server.tasks[0]
    # Only the three allowed fields, Subject trimmed.
    assert task.body == {"Subject": "Call back about renewal", "Priority": "High", "Description": "Q3"}
    assert response.replayed is False
    assert response.tool_run_ref == task.task_id
    assert response.raw_response == {"id": task.task_id, "success": True, "errors": []}
    [ref] = response.external_object_refs
    assert (ref.system, ref.object_type, ref.object_id) == (ExternalSystem.CRM, "Task", task.task_id)
    assert ref.object_url == f"{server.base_url}/lightning/r/Task/{task.task_id}/view"
    record = writes.get(request.idempotency_key)
    assert record is not None
    assert record.status is ExternalWriteStatus.COMPLETED
    assert record.refs == [ref]
    assert record.tool_name == "crm.create_task"
    assert record.ttl is not None
    assert record.ttl > time.time() + 30 * 86400


def test_optional_parameters_may_be_absent_or_null(
    adapter: CrmTaskAdapter, new_account: Callable[..., Account], server: CrmTestServer
) -> None:
    account = new_account()
    adapter.create_task(request_for(account, parameters={"Subject": "Only a subject", "Priority": None}))
    assert [task.body for task in server.tasks] == [{"Subject": "Only a subject"}]


def test_repeat_with_the_same_key_is_replayed_without_calling_the_crm(
    adapter: CrmTaskAdapter, new_account: Callable[..., Account], server: CrmTestServer
) -> None:
    account = new_account()
    request = request_for(account)
    first = adapter.create_task(request)

    again = adapter.create_task(request.model_copy(update={"attempt_count": 2}))

    assert server.requests == 1
    assert len(server.tasks) == 1
    assert again.replayed is True
    assert again.external_object_refs == first.external_object_refs
    assert again.tool_run_ref == first.tool_run_ref
    assert again.raw_response["replayed"] is True
    assert again.raw_response["id"] == first.tool_run_ref


# ---------------------------------------------------------------- the CRM answers with an error
@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_is_an_auth_error_and_releases_the_reservation(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    status: int,
) -> None:
    account = new_account()
    request = request_for(account)
    server.fail_next(status)

    with pytest.raises(AuthError) as info:
        adapter.create_task(request)

    assert classify(info.value) == (ErrorClass.AUTH, ErrorCode.AUTH_FAILED, False)
    assert f"HTTP {status}" in str(info.value)
    assert writes.get(request.idempotency_key) is None
    assert server.tasks == []


def test_a_wrong_token_is_refused_by_the_crm_as_an_auth_error(
    adapter: CrmTaskAdapter, new_account: Callable[..., Account], server: CrmTestServer
) -> None:
    account = new_account(secret=json.dumps({"access_token": "not-the-right-token"}))
    with pytest.raises(AuthError):
        adapter.create_task(request_for(account))
    assert server.requests == 1
    assert server.tasks == []


def test_rate_limit_is_retryable_and_a_retry_posts_once(
    adapter: CrmTaskAdapter, new_account: Callable[..., Account], server: CrmTestServer
) -> None:
    account = new_account()
    request = request_for(account)
    server.fail_next(429)

    with pytest.raises(RateLimitError) as info:
        adapter.create_task(request)
    assert info.value.retryable is True

    response = adapter.create_task(request.model_copy(update={"attempt_count": 2}))
    assert response.replayed is False
    assert len(server.tasks) == 1


def test_server_error_then_retry_creates_exactly_one_task(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    account = new_account()
    request = request_for(account)
    server.fail_next(500)

    with pytest.raises(DownstreamError) as info:
        adapter.create_task(request)
    assert classify(info.value) == (ErrorClass.DOWNSTREAM, ErrorCode.DOWNSTREAM_ERROR, True)
    assert writes.get(request.idempotency_key) is None

    response = adapter.create_task(request.model_copy(update={"attempt_count": 2}))
    third = adapter.create_task(request.model_copy(update={"attempt_count": 3}))

    assert [task.task_id for task in server.tasks] == [response.tool_run_ref]
    assert third.replayed is True
    assert server.requests == 2


def test_other_client_errors_are_invalid_input(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    account = new_account()
    request = request_for(account)
    server.fail_next(400)

    with pytest.raises(InvalidInputError) as info:
        adapter.create_task(request)

    assert classify(info.value) == (ErrorClass.VALIDATION, ErrorCode.INVALID_INPUT, False)
    assert writes.get(request.idempotency_key) is None


# ---------------------------------------------------------------- transport failures
def test_connection_refused_is_a_downstream_error_and_releases(
    adapter: CrmTaskAdapter, new_account: Callable[..., Account], writes: ExternalWriteRepository
) -> None:
    account = new_account(instance_url=f"http://127.0.0.1:{closed_port()}")
    request = request_for(account)

    with pytest.raises(DownstreamError) as info:
        adapter.create_task(request)

    assert type(info.value) is DownstreamError
    assert info.value.retryable is True
    assert writes.get(request.idempotency_key) is None


def test_read_timeout_keeps_the_reservation_and_the_retry_reports_it_in_doubt(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    account = new_account()
    request = request_for(account)
    server.respond_slowly(READ_TIMEOUT + 1.0)

    started = time.monotonic()
    with pytest.raises(ToolTimeoutError) as info:
        adapter.create_task(request)
    assert time.monotonic() - started < READ_TIMEOUT + 0.9  # the pool did not retry behind our back
    assert classify(info.value) == (ErrorClass.TIMEOUT, ErrorCode.TIMEOUT, True)
    record = writes.get(request.idempotency_key)
    assert record is not None
    assert record.status is ExternalWriteStatus.PENDING

    server.respond_slowly(0)
    with pytest.raises(ExternalWriteInDoubtError) as doubt:
        adapter.create_task(request.model_copy(update={"attempt_count": 2}))
    assert classify(doubt.value) == (ErrorClass.DOWNSTREAM, ErrorCode.EXTERNAL_WRITE_IN_DOUBT, False)

    # The slow first request does land; the retry never reached the CRM.
    deadline = time.monotonic() + 5
    while not server.tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.tasks) == 1
    assert server.requests == 1
    still = writes.get(request.idempotency_key)
    assert still is not None
    assert still.status is ExternalWriteStatus.PENDING


class _FailingFinalize(ExternalWriteRepository):
    def finalize(self, *args: Any, **kwargs: Any) -> Any:
        raise DataStoreUnavailableError("throttled")


def test_a_created_task_that_cannot_be_recorded_is_in_doubt_and_named(
    make_adapter: Callable[..., CrmTaskAdapter],
    new_account: Callable[..., Account],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    runtime: LocalStack,
) -> None:
    adapter = make_adapter(external_writes=_FailingFinalize(runtime.client("dynamodb"), writes.table_name))
    request = request_for(new_account())

    with pytest.raises(ExternalWriteInDoubtError) as info:
        adapter.create_task(request)

    assert server.tasks[0].task_id in str(info.value)  # what an operator needs to reconcile
    record = writes.get(request.idempotency_key)
    assert record is not None
    assert record.status is ExternalWriteStatus.PENDING  # kept: a retry must not post again


@pytest.fixture
def odd_crm() -> Iterator[str]:
    """A CRM that answers 201 without a task id."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Silent."""

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            payload = b'{"success": false, "errors": []}'
            self.send_response(201)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_success_without_a_task_id_is_in_doubt(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    writes: ExternalWriteRepository,
    odd_crm: str,
) -> None:
    request = request_for(new_account(instance_url=odd_crm))

    with pytest.raises(ExternalWriteInDoubtError):
        adapter.create_task(request)

    record = writes.get(request.idempotency_key)
    assert record is not None
    assert record.status is ExternalWriteStatus.PENDING


# ---------------------------------------------------------------- the connector is refused before any request
def test_missing_connector_config(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    account = new_account(configure=False)
    request = request_for(account)

    with pytest.raises(ConnectorNotConfiguredError) as info:
        adapter.create_task(request)

    assert classify(info.value) == (ErrorClass.VALIDATION, ErrorCode.CONNECTOR_NOT_CONFIGURED, False)
    assert server.requests == 0
    assert writes.get(request.idempotency_key) is None


def test_instance_url_off_the_allow_list_is_refused(
    make_adapter: Callable[..., CrmTaskAdapter],
    new_account: Callable[..., Account],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
) -> None:
    account = new_account()  # points at the loopback test server
    request = request_for(account)
    production_like = make_adapter(allow="https://*.my.salesforce.com")

    with pytest.raises(ConnectorNotAllowedError) as info:
        production_like.create_task(request)

    assert classify(info.value) == (ErrorClass.VALIDATION, ErrorCode.CONNECTOR_NOT_ALLOWED, False)
    assert server.requests == 0
    assert writes.get(request.idempotency_key) is None


def test_another_tenants_secret_is_refused(
    adapter: CrmTaskAdapter, new_account: Callable[..., Account], server: CrmTestServer
) -> None:
    victim = new_account()
    attacker = new_account(secret_id=victim.secret_id)  # the config names a secret that does exist

    with pytest.raises(ConnectorNotAllowedError):
        adapter.create_task(request_for(attacker))

    assert server.requests == 0


def test_a_secret_outside_the_prefix_is_refused(
    adapter: CrmTaskAdapter, new_account: Callable[..., Account], server: CrmTestServer
) -> None:
    account = new_account(secret_id="other-stack/crm/shared")
    with pytest.raises(ConnectorNotAllowedError):
        adapter.create_task(request_for(account))
    assert server.requests == 0


@pytest.mark.parametrize(
    "secret", ["not json", json.dumps({"token": TOKEN}), json.dumps({"access_token": "a b"})]
)
def test_unusable_secret_is_not_configured(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    secret: str,
) -> None:
    account = new_account(secret=secret)
    request = request_for(account)

    with pytest.raises(ConnectorNotConfiguredError) as info:
        adapter.create_task(request)

    assert TOKEN not in str(info.value)
    assert server.requests == 0
    assert writes.get(request.idempotency_key) is None


def test_missing_secret_is_not_configured(
    adapter: CrmTaskAdapter,
    new_account: Callable[..., Account],
    secrets_client: Any,
    server: CrmTestServer,
) -> None:
    account = new_account()
    secrets_client.delete_secret(SecretId=account.secret_id, ForceDeleteWithoutRecovery=True)

    with pytest.raises(ConnectorNotConfiguredError):
        adapter.create_task(request_for(account))
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
    server: CrmTestServer,
    writes: ExternalWriteRepository,
    case: tuple[dict[str, Any], type[ExecutionError]],
) -> None:
    overrides, error = case
    request = request_for(new_account(), **overrides)

    with pytest.raises(error) as info:
        adapter.create_task(request)

    assert type(info.value) is error
    assert info.value.error_class is ErrorClass.VALIDATION
    assert writes.get(request.idempotency_key) is None
    assert server.requests == 0


# ---------------------------------------------------------------- the token stays secret
def test_the_token_never_appears_in_errors_or_logs(
    make_adapter: Callable[..., CrmTaskAdapter],
    new_account: Callable[..., Account],
    server: CrmTestServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="execution_core")
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.INFO)
    adapter = make_adapter()
    raised: list[BaseException] = []

    def attempt(request: AdapterRequest) -> None:
        try:
            adapter.create_task(request)
        except ExecutionError as exc:
            raised.append(exc)

    for status in (401, 403, 429, 500, 400):
        server.fail_next(status)
        attempt(request_for(new_account()))
    slow = request_for(new_account())
    server.respond_slowly(READ_TIMEOUT + 0.5)
    attempt(slow)
    server.respond_slowly(0)
    attempt(slow.model_copy(update={"attempt_count": 2}))
    attempt(request_for(new_account(secret_id=new_account().secret_id)))
    attempt(request_for(new_account(secret=json.dumps({"access_token": TOKEN, "extra": 1}) + "x")))
    adapter.create_task(request_for(new_account()))

    assert [type(exc).__name__ for exc in raised] == [
        "AuthError",
        "AuthError",
        "RateLimitError",
        "DownstreamError",
        "InvalidInputError",
        "ToolTimeoutError",
        "ExternalWriteInDoubtError",
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
    deadline = time.monotonic() + 3
    while len(server.tasks) < 2 and time.monotonic() < deadline:  # let the slow request land
        time.sleep(0.05)


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
        module.lambda_handler({"tool_name": "crm.create_task"}, context)
    out = capfd.readouterr()
    assert request.action_intent_id in out.out  # correlation keys are on the log lines
    assert TOKEN not in out.out + out.err
