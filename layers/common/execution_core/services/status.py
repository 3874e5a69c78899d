"""The execution status API's domain: status derivation (pure), account listings, access decisions.

Rules (docs/architecture.md §4.8):

- intent, attempt and outcome all absent → not found (404), never PENDING/EXPIRED for an unknown id;
- outcome present → the outcome's status, whatever the attempt says (outcome wins);
- attempt only: RUNNING → RUNNING; any other attempt status → PENDING (a terminal attempt without its
  outcome is a record in transition, not a result to show);
- intent only → PENDING, or EXPIRED once ``expires_at_epoch`` has passed.

Every read is keyed by the caller's tenant (from verified claims), so another tenant's id is simply
absent: a foreign id and an unknown id give the same 404. A 403 is only ever about the *requested
account* against the caller's own grants, which reveals nothing about other tenants' data.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from execution_core.errors import ErrorClass, ErrorCode, ExecutionError, InvalidInputError
from execution_core.models import (
    ActionIntent,
    ActionOutcome,
    ApiStatus,
    AttemptStatus,
    ExecutionAttempt,
    ExecutionStatus,
    utc_now,
)
from execution_core.repositories.status_read import ExecutionRecords, StatusReadRepository
from execution_core.repositories.tenants import TenantRepository
from execution_core.services.authz import Caller, ForbiddenError, is_identifier
from execution_core.services.pagination import InvalidPaginationTokenError, PaginationTokens

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
_DIGITS = re.compile(r"^[0-9]{1,4}$")
LIST_ROUTE = "GET /accounts/{account_id}/executions"


class ExecutionNotFoundError(ExecutionError):
    """Nothing exists for this id in the caller's tenant and account (or it belongs to someone else)."""

    error_class = ErrorClass.VALIDATION
    error_code = ErrorCode.INTENT_NOT_FOUND
    default_message = "Execution not found"


class InvalidParameterError(InvalidInputError):
    """A request parameter is missing or malformed; the message is written for the API client."""


class InvalidLimitError(InvalidInputError):
    """``limit`` is not a whole number from 1 to 100; ``provided`` is echoed back
    (docs/architecture.md §4.8)."""

    default_message = "The limit query parameter must be a number between 1 and 100."

    def __init__(self, provided: str) -> None:
        super().__init__()
        self.provided = provided


# ---------------------------------------------------------------------------------------- derivation
def derive_status(records: ExecutionRecords, now: datetime) -> ExecutionStatus | None:
    """The API view of one intent's records, or None when nothing exists (a 404). Pure."""
    if records.outcome is not None:
        return status_from_outcome(records.outcome)
    if records.attempt is not None:
        attempt = records.attempt
        running = attempt.status is AttemptStatus.RUNNING
        return ExecutionStatus(
            action_intent_id=attempt.action_intent_id,
            status=ApiStatus.RUNNING if running else ApiStatus.PENDING,
            started_at=attempt.started_at,
            attempt_count=attempt.attempt_count,
        )
    if records.intent is not None:
        return status_from_intent(records.intent, now)
    return None


def status_from_outcome(outcome: ActionOutcome) -> ExecutionStatus:
    return ExecutionStatus(
        action_intent_id=outcome.action_intent_id,
        status=ApiStatus(outcome.status.value),
        started_at=outcome.started_at,
        completed_at=outcome.completed_at,
        external_object_refs=list(outcome.external_object_refs),
        error_message=outcome.error_message,
        error_class=outcome.error_class,
        attempt_count=outcome.attempt_count,
    )


def status_from_intent(intent: ActionIntent, now: datetime) -> ExecutionStatus:
    expired = intent.expires_at_epoch <= int(now.timestamp())
    return ExecutionStatus(
        action_intent_id=intent.action_intent_id,
        status=ApiStatus.EXPIRED if expired else ApiStatus.PENDING,
    )


def status_from_attempt(attempt: ExecutionAttempt) -> ExecutionStatus:
    """A list entry. The attempt carries its outcome's summary, written in the same transaction as the
    outcome (RecordOutcome / RecordFailure), so a terminal attempt here means the outcome exists and its
    status is the attempt's status: the listing needs no second read."""
    if attempt.status is AttemptStatus.RUNNING:
        return ExecutionStatus(
            action_intent_id=attempt.action_intent_id,
            status=ApiStatus.RUNNING,
            started_at=attempt.started_at,
            attempt_count=attempt.attempt_count,
        )
    return ExecutionStatus(
        action_intent_id=attempt.action_intent_id,
        status=ApiStatus(attempt.status.value),
        started_at=attempt.started_at,
        completed_at=attempt.completed_at,
        external_object_refs=list(attempt.external_object_refs),
        error_message=attempt.error_message,
        error_class=attempt.error_class,
        attempt_count=attempt.attempt_count,
    )


# ---------------------------------------------------------------------------------------- parameters
def require_identifier(value: str | None, name: str, where: str) -> str:
    if value is None or value == "":
        raise InvalidParameterError(f"The {name} {where} parameter is required.")
    if not is_identifier(value):
        raise InvalidParameterError(f"The {name} {where} parameter is not a valid identifier.")
    return value


def path_identifier(raw: str, name: str) -> str:
    """A path id as the route saw it: percent-decoded once (API Gateway's REST ``path`` keeps the client's
    encoding), strictly as UTF-8, then held to the one identifier rule. Anything else is a 400."""
    try:
        decoded = unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InvalidParameterError(f"The {name} path parameter is not a valid identifier.") from None
    return require_identifier(decoded, name, "path")


def parse_limit(raw: str | None) -> int:
    """``limit``: absent (or empty) means the default; otherwise a whole number from 1 to 100."""
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidLimitError(raw[:64])
    return int(raw)


# ---------------------------------------------------------------------------------------- service
@dataclass(frozen=True)
class ExecutionPage:
    executions: list[ExecutionStatus]
    next_token: str | None


class StatusService:
    """One DynamoDB round trip per status request and per list page (plus a membership read when the
    caller's token lists no accounts, on the list route only)."""

    def __init__(
        self,
        reader: StatusReadRepository,
        tenants: TenantRepository,
        tokens: PaginationTokens,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._reader = reader
        self._tenants = tenants
        self._tokens = tokens
        self._clock = clock

    def get_status(
        self, caller: Caller, action_intent_id: str | None, account_id: str | None
    ) -> ExecutionStatus:
        intent_id = require_identifier(action_intent_id, "action_intent_id", "path")
        account = require_identifier(account_id, "account_id", "query")
        granted = caller.grant_for(account)
        if granted is False:
            raise ForbiddenError("the account is not in the caller's grants")
        records = self._reader.get_execution_records(
            caller.tenant_id, account, intent_id, check_membership=granted is None
        )
        if granted is None and not records.account_member:
            raise ForbiddenError("the account is not a member of the caller's tenant")
        status = derive_status(records, self._clock())
        if status is None:
            raise ExecutionNotFoundError()
        return status

    def list_executions(
        self, caller: Caller, account_id: str | None, limit: str | None, next_token: str | None
    ) -> ExecutionPage:
        account = require_identifier(account_id, "account_id", "path")
        granted = caller.grant_for(account)
        if granted is None:
            granted = self._tenants.is_account_member(caller.tenant_id, account)
        if not granted:
            raise ForbiddenError("the account is not in the caller's grants")
        page_size = parse_limit(limit)
        scope = {
            "route": LIST_ROUTE,
            "tenant_id": caller.tenant_id,
            "account_id": account,
            "limit": str(page_size),
        }
        now = self._clock()
        start = self._tokens.read(next_token, scope, now) if next_token is not None else None
        try:
            page = self._reader.list_executions(caller.tenant_id, account, page_size, start)
        except InvalidInputError:
            if start is None:
                raise
            # A signed position that still does not fit the query (the repository re-checks it).
            raise InvalidPaginationTokenError() from None
        token = self._tokens.issue(page.next_key, scope, now) if page.next_key else None
        return ExecutionPage([status_from_attempt(a) for a in page.items], token)
