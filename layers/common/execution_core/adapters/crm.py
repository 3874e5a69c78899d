"""The CRM adapter (PerformAction for ``crm.*``): ``crm.create_task`` against a Salesforce-style REST API.

Source-level idempotency: the task is written with an upsert by an external id field that carries the
idempotency key (``PATCH .../sobjects/Task/<ExternalIdField>/<key>``; the field name is connector
configuration and must be marked External ID and Unique in the CRM). Repeating the write is therefore safe
at the CRM itself: 201 means it created the task, 200 (or 204 before API 46.0) that it already existed.

Around it, ExternalWrites keeps the write's state:

* the reservation (PENDING) commits in one transaction with the re-authorization of the attempt (kill
  switches, lease, key, expiry), right before the request; a stop at any moment before means no request;
* a confirmed write is finalized (COMPLETED, with the task's reference and the CRM's answer), and every
  later attempt replays it without calling the CRM;
* an answer that settles nothing (timeout, dropped connection, 5xx, a 2xx without an id) keeps the
  reservation PENDING; the retry Step Functions makes upserts again and learns the truth. If no retry
  settles it, the reservation stays PENDING: "in doubt", for the reconciler's lookup by external id;
* a definite refusal (4xx, or no connection) means this request wrote nothing; the reservation is
  released unless an earlier attempt may have written under the same key (the write was reserved more
  than once): then the task is looked up first, and the reservation kept while that cannot settle it.

Step Functions owns retries: the HTTP pool never retries or follows redirects by itself. Tokens come from
Secrets Manager and never appear in a log line or an error message; neither do request or response bodies.
"""

import functools
import json
import logging
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol
from urllib.parse import quote

import pydantic
import urllib3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError
from pydantic import Field, JsonValue, StringConstraints
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from execution_core.adapters.allowlist import OriginPattern, allowed_origin
from execution_core.contracts import EffectResult, PreparedExecution, ResolveRequest
from execution_core.errors import (
    AuthError,
    ConfigurationError,
    ConnectorNotAllowedError,
    ConnectorNotConfiguredError,
    CrmExternalIdConflictError,
    DownstreamError,
    ExecutionError,
    InvalidInputError,
    MissingRequiredParameterError,
    RateLimitError,
    StateConflictError,
    ToolTimeoutError,
)
from execution_core.models.adapters import ConnectorType, ExternalWriteRecord, ExternalWriteStatus
from execution_core.models.common import utc_now
from execution_core.models.execution import ExternalObjectRef, ExternalSystem
from execution_core.repositories.connector_config import ConnectorConfigRepository
from execution_core.repositories.external_writes import ExternalWriteRepository
from execution_core.services.artifacts import ArtifactStore
from execution_core.services.authorization import EffectAuthorization
from execution_core.services.effects import EffectState
from execution_core.settings import CrmSettings
from execution_core.tracing import subsegment

__all__ = [
    "API_VERSION",
    "TASK_SOBJECT_PATH",
    "TOOL_NAME",
    "CrmTaskAdapter",
    "CrmTaskParameters",
    "EventLog",
    "SecretSource",
    "SecretsManagerSource",
    "build_http_pool",
]

TOOL_NAME = "crm.create_task"
API_VERSION = "v60.0"
TASK_SOBJECT_PATH = f"/services/data/{API_VERSION}/sobjects/Task"
MAX_RESPONSE_BYTES = 64 * 1024  # a task upsert answer is tiny; anything bigger is not a Salesforce answer
RESERVATION_TTL = timedelta(days=90)  # dedupe outlives every retry and any intent's validity by far
SECRET_MAX_AGE_SECONDS = 300

_TASK_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_ERROR_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,4096}$")  # one header-safe word: no spaces, controls or non-ASCII
_SETTLED = (200, 201)  # created (201) or already there (200): the answer names the task
_UPDATED_WITHOUT_BODY = 204  # an existing record was updated (API versions before 46.0): look it up

_log = logging.getLogger(__name__)
# Definite refusals other than auth, by status: (error type, message). Nothing was written.
_REFUSALS: dict[int, tuple[type[ExecutionError], str]] = {
    429: (RateLimitError, "The CRM is rate limiting requests (HTTP 429)"),
    408: (DownstreamError, "The CRM timed the request out before processing it (HTTP 408)"),
    404: (ConnectorNotConfiguredError, "The CRM has no such external id field on Task (HTTP 404)"),
}


@functools.cache
def _json_object_adapter() -> pydantic.TypeAdapter[dict[str, JsonValue]]:
    """Built once per container, on the first answer (not at import, not per answer)."""
    return pydantic.TypeAdapter(dict[str, JsonValue])


# ---------------------------------------------------------------- configuration
def build_http_pool(settings: CrmSettings) -> urllib3.PoolManager:
    """One pool per container: bounded timeouts, no retries, no redirects (the state machine retries)."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(
            connect=settings.crm_connect_timeout_seconds, read=settings.crm_read_timeout_seconds
        ),
        retries=False,
        maxsize=4,
    )


# ---------------------------------------------------------------- collaborators
class SecretSource(Protocol):
    """Where connector credentials come from; raises a classified ExecutionError when it cannot answer."""

    def get_secret(self, secret_id: str) -> str: ...

    def forget(self, secret_id: str) -> None:
        """Drop any cached copy, e.g. after the CRM refused the token (it may have been rotated)."""


class EventLog(Protocol):
    """The logging calls the adapter makes; a stdlib logger or a Powertools Logger both fit."""

    def info(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None: ...

    def warning(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None: ...


# Secrets Manager error codes that mean "this connector has no usable secret" rather than an outage.
_SECRET_MISSING = frozenset({"ResourceNotFoundException", "InvalidRequestException"})
_SECRET_FORBIDDEN = frozenset({"AccessDeniedException", "DecryptionFailure", "AccessDenied"})


class SecretsManagerSource:
    """Secrets Manager through Powertools' cached provider: one fetch per secret per ``max_age`` seconds."""

    def __init__(self, client: Any, max_age_seconds: int = SECRET_MAX_AGE_SECONDS) -> None:
        self._provider = SecretsProvider(boto3_client=client)
        self._max_age = max_age_seconds

    def get_secret(self, secret_id: str) -> str:
        try:
            value = self._provider.get(secret_id, max_age=self._max_age)
        except GetParameterError as exc:
            # Powertools flattens the boto error into its message; the original is the implicit context.
            raise _secret_error(exc.__context__) from None
        if not isinstance(value, str):
            raise ConnectorNotConfiguredError("The connector's secret is not a JSON string")
        return value

    def forget(self, secret_id: str) -> None:
        self._provider.clear_cache()  # type: ignore[no-untyped-call]


def _secret_error(cause: BaseException | None) -> ExecutionError:
    code = cause.response.get("Error", {}).get("Code", "") if isinstance(cause, ClientError) else ""
    if code in _SECRET_MISSING:
        return ConnectorNotConfiguredError("The connector's secret does not exist or is not usable")
    if code in _SECRET_FORBIDDEN:
        return ConfigurationError("The function may not read the connector's secret")
    return DownstreamError("Secrets Manager could not be reached")


# ---------------------------------------------------------------- the tool's parameters
_Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
_Priority = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
_Description = Annotated[str, Field(max_length=32_000)]


class CrmTaskParameters(pydantic.BaseModel):
    """The only fields the adapter sends: anything else in the request is refused, not forwarded."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", strict=True)

    subject: _Subject = Field(alias="Subject")
    priority: _Priority | None = Field(default=None, alias="Priority")
    description: _Description | None = Field(default=None, alias="Description")

    def body(self) -> dict[str, str]:
        return self.model_dump(by_alias=True, exclude_none=True)


def _task_parameters(parameters: Mapping[str, JsonValue]) -> CrmTaskParameters:
    try:
        return CrmTaskParameters.model_validate(parameters)
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        names = sorted({".".join(str(p) for p in err["loc"]) or "parameters" for err in errors})
        if any(err["type"] == "missing" for err in errors):
            missing = sorted({str(err["loc"][0]) for err in errors if err["type"] == "missing"})
            raise MissingRequiredParameterError(f"missing tool parameter {', '.join(missing)}") from None
        raise InvalidInputError(f"invalid tool parameters: check {', '.join(names)[:200]}") from None


# ---------------------------------------------------------------- the adapter
@dataclass(frozen=True)
class _Target:
    origin: str
    secret_id: str
    token: str
    external_id_field: str

    def __repr__(self) -> str:  # a stray repr in a log or traceback must not carry the token
        return f"_Target(origin={self.origin!r}, secret_id={self.secret_id!r})"

    def record_url(self, key: str) -> str:
        return f"{self.origin}{TASK_SOBJECT_PATH}/{quote(self.external_id_field)}/{quote(key)}"

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes | None  # None when it could not be read whole


class _PossiblySentError(Exception):
    """The request left this process and no answer came back: the write may have happened."""


class CrmTaskAdapter:
    """Creates one CRM task per idempotency key; see the module docstring for the failure rules."""

    def __init__(
        self,
        *,
        connectors: ConnectorConfigRepository,
        external_writes: ExternalWriteRepository,
        authorization: EffectAuthorization,
        artifacts: ArtifactStore,
        secrets: SecretSource,
        http: urllib3.PoolManager,
        allowed_origins: Sequence[OriginPattern],
        secret_prefix: str,
        clock: Callable[[], datetime] = utc_now,
        log: EventLog = _log,
        reservation_ttl: timedelta = RESERVATION_TTL,
        settle_after: timedelta = timedelta(seconds=120),
    ) -> None:
        if not allowed_origins:
            raise ConfigurationError("the CRM allow-list is empty")
        if not secret_prefix.endswith("/"):
            raise ConfigurationError("the CRM secret prefix must end with '/'")
        self._connectors = connectors
        self._writes = external_writes
        self._authorization = authorization
        self._artifacts = artifacts
        self._secrets = secrets
        self._http = http
        self._allowed = tuple(allowed_origins)
        self._secret_prefix = secret_prefix
        self._clock = clock
        self._log = log
        self._ttl = reservation_ttl
        self._settle_after = settle_after

    def act(self, prepared: PreparedExecution) -> EffectResult:
        with subsegment("crm_adapter.act", tenant_id=prepared.tenant_id, action_type=prepared.action_type):
            return self._act(prepared)

    def _act(self, prepared: PreparedExecution) -> EffectResult:
        if prepared.tool.tool_name != TOOL_NAME:
            raise InvalidInputError(f"the CRM adapter does not run {prepared.tool.tool_name}")
        prepared.require_consistent_key()
        task = _task_parameters(prepared.tool.parameters)
        key = prepared.idempotency_key
        # Everything that needs no write is resolved first, so the last check comes right before the call.
        target = self._target(prepared.tenant_id, prepared.account_id)
        now = self._clock()
        reservation = ExternalWriteRecord(
            idempotency_key=key,
            status=ExternalWriteStatus.PENDING,
            tool_name=TOOL_NAME,
            raw_response_artifact_ref=self._artifacts.ref_for(
                prepared.tenant_id, prepared.account_id, prepared.action_intent_id, prepared.attempt_count
            ),
            created_at=now,
            ttl=int((now + self._ttl).timestamp()),
        )
        existing = self._authorization.commit(prepared, self._writes.reserve_item(reservation))
        if existing is not None:
            return self._replay(self._writes.parse_item(existing))
        task_id, body = self._write(target, task, key)
        return self._finalize(key, target, task_id, body, reservation)

    def resolve(self, request: ResolveRequest) -> EffectState:
        """Settle an in-doubt write for the reconciler: a lookup by external id, never a write to the CRM.

        Found: the write happened; it is finalized (refs, raw answer, artifact). Not found, and reserved so
        long ago that no request can still be in flight: it never happened; the reservation is released.
        A stop (kill switch) covers lookups too: a stopped scope stays in doubt until it is resumed.
        """
        if request.tool_name != TOOL_NAME:
            raise InvalidInputError(f"the CRM adapter does not run {request.tool_name}")
        key = request.idempotency_key
        record = self._writes.get(key)
        if record is None:
            return EffectState.ABSENT
        if record.status is ExternalWriteStatus.COMPLETED:
            self._replay(record)  # makes sure its artifact exists
            return EffectState.PRESENT
        if self._authorization.stopped(request.tenant_id, request.action_type):
            self._log.warning("crm write left in doubt: the scope is stopped")
            return EffectState.IN_DOUBT
        target = self._target(request.tenant_id, request.account_id)
        task_id = self._lookup(target, key)
        if task_id is not None:
            self._finalize(key, target, task_id, _looked_up(task_id), record)
            return EffectState.PRESENT
        if self._clock() - record.created_at < self._settle_after:
            return EffectState.IN_DOUBT  # the last attempt may still land: ask again later
        self._release(key)
        self._log.info("crm write settled: it never happened")
        return EffectState.ABSENT

    # ------------------------------------------------------------ steps
    def _target(self, tenant_id: str, account_id: str) -> _Target:
        config = self._connectors.get(tenant_id, account_id, ConnectorType.CRM)
        if config is None:
            raise ConnectorNotConfiguredError("No CRM connector is configured for this account")
        origin = allowed_origin(config.instance_url, self._allowed)
        if origin is None:
            raise ConnectorNotAllowedError("The CRM instance URL is not on the allow-list")
        expected_secret = f"{self._secret_prefix}{tenant_id}/{account_id}"
        if config.secret_id != expected_secret:
            raise ConnectorNotAllowedError("The connector's secret belongs to another tenant or account")
        token = _access_token(self._secrets.get_secret(expected_secret))
        return _Target(
            origin=origin, secret_id=expected_secret, token=token, external_id_field=config.external_id_field
        )

    def _write(
        self, target: _Target, task: "CrmTaskParameters", key: str
    ) -> tuple[str, dict[str, JsonValue]]:
        """Upsert the task; the task id and the CRM's answer, or the classified reason it is not known."""
        try:
            answer = self._request("PATCH", target.record_url(key), target, json.dumps(task.body()).encode())
        except _PossiblySentError:
            # Keep the reservation: the write may exist; the retry this error invites upserts again.
            self._log.warning("crm upsert sent without an answer; reservation kept")
            raise ToolTimeoutError(
                "The CRM did not answer in time; the retry repeats the upsert, which cannot duplicate"
            ) from None
        except ExecutionError as refused:  # this request never reached the CRM
            return self._after_refusal(target, key, refused)
        return self._settle(target, key, answer)

    def _settle(self, target: _Target, key: str, answer: _Answer) -> tuple[str, dict[str, JsonValue]]:
        """The task id the CRM answered with, looking it up by external id when the answer names none."""
        body = _json_object(answer.body) or {}
        if answer.status in _SETTLED and body.get("success") is True and _is_task_id(body.get("id")):
            return str(body["id"]), body
        if answer.status in (*_SETTLED, _UPDATED_WITHOUT_BODY):
            found = self._lookup(target, key)
            if found is not None:
                return found, _looked_up(found)
            self._log.warning("crm write confirmed but not found by its key", extra={"status": answer.status})
            raise ToolTimeoutError("The CRM confirmed the write but the task could not be looked up yet")
        error = self._status_error(answer, target)
        if answer.status == 300 or answer.status >= 500:
            raise error  # the CRM may hold the write (or several): the reservation stays for the lookup
        return self._after_refusal(target, key, error)

    def _after_refusal(
        self, target: _Target, key: str, refusal: ExecutionError
    ) -> tuple[str, dict[str, JsonValue]]:
        """This request wrote nothing. The reservation is released only if no earlier request can have:
        a write reserved more than once is looked up first (an attempt before may have written it and
        died without hearing back), and kept while that cannot be settled."""
        if self._writes.release(key, only_if_reserved_once=True):
            raise refusal  # the only request under this key was this one
        record = self._writes.get(key)
        if record is None or record.status is not ExternalWriteStatus.PENDING:
            raise refusal
        try:
            found = self._lookup(target, key)
        except ExecutionError:
            self._log.warning("crm refusal after an unanswered write; reservation kept for the lookup")
            raise refusal from None
        if found is not None:
            self._log.info("crm refusal, but an earlier attempt had written the task")
            return found, _looked_up(found)
        if self._clock() - record.created_at < self._settle_after:
            self._log.warning("crm refusal while an earlier write may still land; reservation kept")
            raise refusal
        self._release(key)
        raise refusal

    def _lookup(self, target: _Target, key: str) -> str | None:
        """The task carrying ``key`` (GET by external id), None if there is none; a read, never a write."""
        try:
            answer = self._request("GET", f"{target.record_url(key)}?fields=Id", target)
        except _PossiblySentError:
            raise ToolTimeoutError("The CRM did not answer the lookup in time") from None
        if answer.status == 404:
            return None
        if answer.status == 300:
            raise CrmExternalIdConflictError()
        record = _json_object(answer.body) or {}
        if answer.status == 200 and _is_task_id(record.get("Id")):
            return str(record["Id"])
        if answer.status in (401, 403):
            self._secrets.forget(target.secret_id)  # a rotated token is picked up by the next lookup
            raise AuthError(f"The CRM refused the credentials for the lookup (HTTP {answer.status})")
        raise DownstreamError(f"The CRM answered the lookup with HTTP {answer.status}")

    def _finalize(
        self,
        key: str,
        target: _Target,
        task_id: str,
        body: dict[str, JsonValue],
        reservation: ExternalWriteRecord,
    ) -> EffectResult:
        ref = ExternalObjectRef(
            system=ExternalSystem.CRM,
            object_type="Task",
            object_id=task_id,
            object_url=f"{target.origin}/lightning/r/Task/{task_id}/view",
        )
        # If this fails the reservation stays PENDING: the retry upserts again and finds the same task.
        record = self._writes.finalize(key, [ref], self._clock(), raw_response=body)
        self._log.info("crm task written", extra={"task_id": task_id, "replayed": False})
        return self._effect(record, fallback=reservation, replayed=False)

    def _replay(self, record: ExternalWriteRecord) -> EffectResult:
        if record.tool_name != TOOL_NAME:
            raise StateConflictError("The idempotency key belongs to another tool")
        if record.status is not ExternalWriteStatus.COMPLETED or not record.refs:
            raise StateConflictError("The completed external write has no object references")
        self._log.info("crm task replayed", extra={"task_id": record.refs[0].object_id})
        return self._effect(record, fallback=record, replayed=True)

    def _effect(
        self, record: ExternalWriteRecord, *, fallback: ExternalWriteRecord, replayed: bool
    ) -> EffectResult:
        refs = record.refs or []
        artifact_ref = record.raw_response_artifact_ref or fallback.raw_response_artifact_ref
        if not refs or artifact_ref is None:
            raise StateConflictError("The completed external write has no object references")
        self._artifacts.store_once(artifact_ref, record.raw_response or {"id": refs[0].object_id})
        return EffectResult(
            external_object_refs=refs,
            raw_response_artifact_ref=artifact_ref,
            tool_run_ref=refs[0].object_id,
            replayed=replayed,
        )

    def _request(self, method: str, url: str, target: _Target, body: bytes | None = None) -> _Answer:
        with subsegment("crm.http", http_method=method):  # urllib3's own http.client spans sit under it
            return self._send(method, url, target, body)

    def _send(self, method: str, url: str, target: _Target, body: bytes | None) -> _Answer:
        try:
            response = self._http.request(
                method,
                url,
                body=body,
                headers=target.headers(),
                redirect=False,
                retries=False,
                preload_content=False,
            )
        except (NewConnectionError, ConnectTimeoutError):
            raise DownstreamError("Could not connect to the CRM") from None
        except SSLError as exc:
            if _certificate_refused(exc):  # verification happens in the handshake, before any byte is sent
                raise DownstreamError("The CRM's TLS certificate was not accepted") from None
            raise _PossiblySentError from None
        except ValueError:  # an unusable URL or header, refused before sending; its text may hold values
            raise DownstreamError("The CRM request could not be built") from None
        except (ReadTimeoutError, ProtocolError, HTTPError):
            raise _PossiblySentError from None
        return _Answer(response.status, _read_limited(response))

    def _release(self, key: str) -> None:
        """A definite refusal releases the reservation, so the failure path finds no write. If releasing
        fails, that error propagates: the step is retried and asks the CRM again, which is harmless."""
        self._writes.release(key)

    def _status_error(self, answer: _Answer, target: _Target) -> ExecutionError:
        """Classify an answer that names no task (300, 4xx: this request wrote nothing; 5xx: unknown)."""
        status = answer.status
        self._log.warning(
            "crm request failed", extra={"status": status, "crm_error_codes": _error_codes(answer.body)}
        )
        if status == 300:  # several records carry our key: the write is not ours alone to settle
            return CrmExternalIdConflictError()
        if status >= 500:  # the CRM may or may not have written: keep the reservation, retry upserts again
            return DownstreamError(f"The CRM failed (HTTP {status})")
        if status in (401, 403):
            self._secrets.forget(target.secret_id)  # a rotated token is picked up by the next attempt
            return AuthError(f"The CRM refused the credentials (HTTP {status})")
        refusal = _REFUSALS.get(status)
        if refusal is not None:
            return refusal[0](refusal[1])
        if 400 <= status < 500:
            return InvalidInputError(f"The CRM rejected the task (HTTP {status})")
        return DownstreamError(f"The CRM answered with an unexpected status (HTTP {status})")


# ---------------------------------------------------------------- helpers
def _access_token(secret: str) -> str:
    try:
        parsed: Any = json.loads(secret)
    except ValueError:
        parsed = None
    token = parsed.get("access_token") if isinstance(parsed, dict) else None
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise ConnectorNotConfiguredError("The connector's secret has no usable access_token")
    return token


def _certificate_refused(exc: SSLError) -> bool:
    causes = [*exc.args, exc.__context__, exc.__cause__]
    return any(isinstance(c, ssl.SSLCertVerificationError) for c in causes)


def _read_limited(response: urllib3.BaseHTTPResponse) -> bytes | None:
    """The body if it is small and arrives whole; None otherwise (the status alone then decides)."""
    complete = False
    try:
        data = response.read(MAX_RESPONSE_BYTES + 1)
        complete = len(data) <= MAX_RESPONSE_BYTES
        return data if complete else None
    except HTTPError:
        return None
    finally:
        if not complete:
            response.close()  # never hand a half-read connection back to the pool
        response.release_conn()


def _json_object(body: bytes | None) -> dict[str, JsonValue] | None:
    if body is None:
        return None
    try:
        parsed = _json_object_adapter().validate_json(body)
    except pydantic.ValidationError:
        return None
    return parsed


def _error_codes(body: bytes | None) -> list[str]:
    """Salesforce's errorCode values (enum words, safe to log); never messages or anything else."""
    try:
        parsed: Any = json.loads(body) if body else None
    except ValueError:
        return []
    items = parsed if isinstance(parsed, list) else []
    codes = [item.get("errorCode") for item in items[:5] if isinstance(item, dict)]
    return [code for code in codes if isinstance(code, str) and _ERROR_CODE.match(code)]


def _looked_up(task_id: str) -> dict[str, JsonValue]:
    """The raw answer kept for a task found by its external id (the write's own answer was lost)."""
    return {"id": task_id, "success": True, "errors": [], "looked_up": True}


def _is_task_id(value: object) -> bool:
    return isinstance(value, str) and _TASK_ID.match(value) is not None
