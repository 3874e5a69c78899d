"""The CRM adapter: ``crm.create_task`` against a Salesforce-style REST API, at most once per idempotency key.

The write is reserved in ExternalWrites (PENDING) before anything is sent and finalized (COMPLETED, with
the task's reference) after the CRM confirms it. What happens on failure depends on whether the request
may have reached the CRM:

* the CRM answered with an error, or nothing was sent: the reservation is released, so a Step Functions
  retry may post again (a 500 followed by a success still creates exactly one task);
* the request was sent and the answer was lost (read timeout, dropped connection): the reservation is
  kept, and the retry finds it and raises ExternalWriteInDoubtError instead of posting a second task.

Step Functions owns retries: the HTTP pool never retries or follows redirects by itself. Tokens come from
Secrets Manager and never appear in a log line or an error message; neither do request or response bodies.
"""

import json
import logging
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

import pydantic
import urllib3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError
from pydantic import AfterValidator, Field, JsonValue, StringConstraints
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from execution_core.adapters.allowlist import OriginPattern, allowed_origin, parse_allowed_origins
from execution_core.contracts import AdapterRequest, AdapterResponse
from execution_core.errors import (
    AuthError,
    ConfigurationError,
    ConnectorNotAllowedError,
    ConnectorNotConfiguredError,
    DownstreamError,
    ExecutionError,
    ExternalWriteInDoubtError,
    InvalidInputError,
    MissingRequiredParameterError,
    RateLimitError,
    StateConflictError,
    ToolTimeoutError,
)
from execution_core.models import (
    ConnectorType,
    ExternalObjectRef,
    ExternalSystem,
    ExternalWriteRecord,
    format_timestamp,
    utc_now,
)
from execution_core.repositories import ConnectorConfigRepository, ExternalWriteRepository, ReserveOutcome
from execution_core.settings import ComponentSettings

__all__ = [
    "API_VERSION",
    "TASK_PATH",
    "TOOL_NAME",
    "CrmSettings",
    "CrmTaskAdapter",
    "CrmTaskParameters",
    "EventLog",
    "SecretSource",
    "SecretsManagerSource",
    "build_http_pool",
]

TOOL_NAME = "crm.create_task"
API_VERSION = "v60.0"
TASK_PATH = f"/services/data/{API_VERSION}/sobjects/Task/"
MAX_RESPONSE_BYTES = 64 * 1024  # a task creation answer is tiny; anything bigger is not a Salesforce answer
RESERVATION_TTL = timedelta(days=90)  # dedupe outlives every retry and any intent's validity by far
SECRET_MAX_AGE_SECONDS = 300

_TASK_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_ERROR_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,4096}$")  # one header-safe word: no spaces, controls or non-ASCII

_log = logging.getLogger(__name__)


# ---------------------------------------------------------------- configuration
def _valid_allow_list(value: str) -> str:
    parse_allowed_origins(value)  # a ValueError names the variable via load_settings, never the value
    return value


class CrmSettings(ComponentSettings):
    """The CRM-specific part of the adapter's environment; the handler composes it with its tables."""

    crm_allowed_origins: Annotated[str, Field(max_length=4096), AfterValidator(_valid_allow_list)]
    crm_secret_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_+=.@-][A-Za-z0-9/_+=.@-]{0,255}/$")]
    crm_connect_timeout_seconds: Annotated[float, Field(gt=0, le=30)]
    crm_read_timeout_seconds: Annotated[float, Field(gt=0, le=60)]

    def origin_patterns(self) -> tuple[OriginPattern, ...]:
        return parse_allowed_origins(self.crm_allowed_origins)


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

    def __repr__(self) -> str:  # a stray repr in a log or traceback must not carry the token
        return f"_Target(origin={self.origin!r}, secret_id={self.secret_id!r})"


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes | None  # None when it could not be read whole


class _PossiblySentError(Exception):
    """The request left this process and no answer came back: the task may exist."""


class CrmTaskAdapter:
    """Creates one CRM task per idempotency key; see the module docstring for the failure rules."""

    def __init__(
        self,
        *,
        connectors: ConnectorConfigRepository,
        external_writes: ExternalWriteRepository,
        secrets: SecretSource,
        http: urllib3.PoolManager,
        allowed_origins: Sequence[OriginPattern],
        secret_prefix: str,
        clock: Callable[[], datetime] = utc_now,
        log: EventLog = _log,
        reservation_ttl: timedelta = RESERVATION_TTL,
    ) -> None:
        if not allowed_origins:
            raise ConfigurationError("the CRM allow-list is empty")
        if not secret_prefix.endswith("/"):
            raise ConfigurationError("the CRM secret prefix must end with '/'")
        self._connectors = connectors
        self._writes = external_writes
        self._secrets = secrets
        self._http = http
        self._allowed = tuple(allowed_origins)
        self._secret_prefix = secret_prefix
        self._clock = clock
        self._log = log
        self._ttl = reservation_ttl

    def create_task(self, request: AdapterRequest) -> AdapterResponse:
        if request.tool_name != TOOL_NAME:
            raise InvalidInputError(f"the CRM adapter does not run {request.tool_name}")
        task = _task_parameters(request.parameters)
        key = request.idempotency_key
        now = self._clock()
        reserved = self._writes.reserve(key, TOOL_NAME, now, ttl_epoch=int((now + self._ttl).timestamp()))
        if reserved.record.tool_name != TOOL_NAME:
            raise StateConflictError("The idempotency key belongs to another tool")
        if reserved.outcome is ReserveOutcome.COMPLETED:
            return self._replay(reserved.record)
        if reserved.outcome is ReserveOutcome.IN_PROGRESS:
            reserved_at = format_timestamp(reserved.record.created_at)
            self._log.warning("crm task in doubt", extra={"reserved_at": reserved_at})
            raise ExternalWriteInDoubtError(
                f"An earlier attempt reserved this CRM task at {reserved_at} and may have created it; "
                "reconcile it in the CRM instead of retrying"
            )
        try:
            target = self._target(request)
            answer = self._post(target, task)
        except _PossiblySentError:
            # Keep the reservation: the retry this error invites must report the doubt, not post again.
            self._log.warning("crm request sent without an answer; reservation kept")
            raise ToolTimeoutError(
                "The CRM did not answer in time; the task may exist, so a retry will not post again"
            ) from None
        except BaseException:
            self._release(key)
            raise
        if not 200 <= answer.status < 300:
            self._release(key)
            raise self._status_error(answer, target)
        return self._finalize(key, target, answer)

    # ------------------------------------------------------------ steps
    def _target(self, request: AdapterRequest) -> _Target:
        config = self._connectors.get(request.tenant_id, request.account_id, ConnectorType.CRM)
        if config is None:
            raise ConnectorNotConfiguredError("No CRM connector is configured for this account")
        origin = allowed_origin(config.instance_url, self._allowed)
        if origin is None:
            raise ConnectorNotAllowedError("The CRM instance URL is not on the allow-list")
        expected_secret = f"{self._secret_prefix}{request.tenant_id}/{request.account_id}"
        if config.secret_id != expected_secret:
            raise ConnectorNotAllowedError("The connector's secret belongs to another tenant or account")
        token = _access_token(self._secrets.get_secret(expected_secret))
        return _Target(origin=origin, secret_id=expected_secret, token=token)

    def _post(self, target: _Target, task: CrmTaskParameters) -> _Answer:
        try:
            response = self._http.request(
                "POST",
                f"{target.origin}{TASK_PATH}",
                body=json.dumps(task.body()).encode(),
                headers={
                    "Authorization": f"Bearer {target.token}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
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

    def _finalize(self, key: str, target: _Target, answer: _Answer) -> AdapterResponse:
        body = _json_object(answer.body) or {}
        task_id = body.get("id") if body.get("success") is True else None
        if not isinstance(task_id, str) or not _TASK_ID.match(task_id):
            # A 2xx means the CRM accepted something; without an id it cannot be confirmed or retried.
            self._log.warning("crm success without a task id", extra={"status": answer.status})
            raise ExternalWriteInDoubtError("The CRM reported success without a usable task id")
        ref = ExternalObjectRef(
            system=ExternalSystem.CRM,
            object_type="Task",
            object_id=task_id,
            object_url=f"{target.origin}/lightning/r/Task/{task_id}/view",
        )
        try:
            self._writes.finalize(key, [ref], self._clock())
        except ExecutionError:
            self._log.warning("crm task created but not recorded", extra={"task_id": task_id})
            raise ExternalWriteInDoubtError(
                f"CRM task {task_id} was created but recording it failed; reconcile before retrying"
            ) from None
        self._log.info("crm task created", extra={"task_id": task_id, "status": answer.status})
        return AdapterResponse(external_object_refs=[ref], raw_response=body, tool_run_ref=task_id)

    def _replay(self, record: ExternalWriteRecord) -> AdapterResponse:
        refs = record.refs or []
        if not refs:
            raise StateConflictError("The completed external write has no object references")
        self._log.info("crm task replayed", extra={"task_id": refs[0].object_id})
        return AdapterResponse(
            external_object_refs=refs,
            raw_response={
                "replayed": True,
                "note": "The task was created by an earlier attempt; the CRM was not called again",
                "id": refs[0].object_id,
                "completed_at": format_timestamp(record.completed_at) if record.completed_at else None,
            },
            tool_run_ref=refs[0].object_id,
            replayed=True,
        )

    def _release(self, key: str) -> None:
        # Failing to release only makes the retry report "in doubt" (safe); the original error matters more.
        try:
            self._writes.release(key)
        except ExecutionError as exc:
            self._log.warning("crm reservation not released", extra={"error_type": type(exc).__name__})

    def _status_error(self, answer: _Answer, target: _Target) -> ExecutionError:
        status = answer.status
        self._log.warning(
            "crm request failed", extra={"status": status, "crm_error_codes": _error_codes(answer.body)}
        )
        if status in (401, 403):
            self._secrets.forget(target.secret_id)  # a rotated token is picked up by the next attempt
            return AuthError(f"The CRM refused the credentials (HTTP {status})")
        if status == 429:
            return RateLimitError("The CRM is rate limiting requests (HTTP 429)")
        if status >= 500 or status == 408:
            return DownstreamError(f"The CRM failed (HTTP {status})")
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
        parsed = pydantic.TypeAdapter(dict[str, JsonValue]).validate_json(body)
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
