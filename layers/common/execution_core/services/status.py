"""The execution status API's domain: status derivation (pure), account listings, access decisions.

Rules (docs/architecture.md §4.8):

- intent, attempt and outcome all absent → not found (404), never PENDING/EXPIRED for an unknown id;
- outcome present → the outcome's status, whatever the attempt says (outcome wins);
- attempt only: RUNNING → RUNNING; a terminal attempt → its own status and summary (it is finalized
  in the outcome's transaction, and it is the record a list page reads: ADR 0010);
- intent only → PENDING, or EXPIRED once ``expires_at_epoch`` has passed.

Every read is keyed by the caller's tenant (from verified claims), so another tenant's id is simply
absent: a foreign id and an unknown id give the same 404. A 403 is only ever about the *requested
account* against the caller's own grants, which reveals nothing about other tenants' data.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import Field

from execution_core.errors import ErrorClass, ErrorCode, ExecutionError, InvalidInputError
from execution_core.models.common import FrozenModel, UtcDatetime, utc_now
from execution_core.models.execution import (
    ActionOutcome,
    ApiStatus,
    AttemptStatus,
    ExecutionAttempt,
    ExecutionStatus,
    OutcomeStatus,
    PipelineStage,
)
from execution_core.models.intent import ActionIntent
from execution_core.models.ledger import LedgerEntry, LedgerEventType
from execution_core.models.signal import SignalType
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


class InvalidStatusFilterError(InvalidInputError):
    """``status`` is not one of the API statuses; ``provided`` is echoed back (cut to 64 characters)."""

    default_message = "The status query parameter must be one of " + ", ".join(ApiStatus) + "."

    def __init__(self, provided: str) -> None:
        super().__init__()
        self.provided = provided


class InvalidLimitError(InvalidInputError):
    """``limit`` is not a whole number from 1 to 100; ``provided`` is echoed back
    (docs/architecture.md §4.8)."""

    default_message = "The limit query parameter must be a number between 1 and 100."

    def __init__(self, provided: str) -> None:
        super().__init__()
        self.provided = provided


# ---------------------------------------------------------------------------------------- derivation
def derive_status(records: ExecutionRecords, now: datetime) -> ExecutionStatus | None:
    """The API row of one intent's records, or None when nothing exists (a 404). Pure.

    The detail applies it to the intent, attempt and outcome; a list row applies it to the attempt
    alone (``status_from_attempt``): one rule, so list and detail agree. The row's status and summary
    come from the outcome when there is one, else from the attempt (RUNNING, or the terminal status it
    was finalized with in the outcome's own transaction), else from the intent (PENDING, or EXPIRED by
    time). Its labels come from the attempt when there is one (the only record a list page reads).
    """
    intent, attempt, outcome = records.intent, records.attempt, records.outcome
    if outcome is not None:
        row = _summary_from_outcome(outcome)
    elif attempt is not None:
        row = _summary_from_attempt(attempt)
    elif intent is not None:
        expired = intent.expires_at_epoch <= int(now.timestamp())
        row = {"status": ApiStatus.EXPIRED if expired else ApiStatus.PENDING}
    else:
        return None
    labels = _labels_from_attempt(attempt) if attempt is not None else _labels_from_intent(intent, outcome)
    return ExecutionStatus.model_validate({"action_intent_id": _intent_id(records), **labels, **row})


def status_from_attempt(attempt: ExecutionAttempt) -> ExecutionStatus:
    """A list entry: ``derive_status`` of the attempt alone (the list reads only the attempts table;
    without an intent, time plays no part, so no clock is needed)."""
    row = derive_status(ExecutionRecords(intent=None, attempt=attempt, outcome=None), datetime.now(UTC))
    if row is None:  # pragma: no cover - an attempt always derives a row
        raise ValueError("an attempt derives a row")
    return row


def _intent_id(records: ExecutionRecords) -> str:
    for record in (records.outcome, records.attempt, records.intent):
        if record is not None:
            return record.action_intent_id
    raise ValueError("no record")  # pragma: no cover - derive_status returned before


def _summary_from_outcome(outcome: ActionOutcome) -> dict[str, Any]:
    return {
        "status": ApiStatus(outcome.status.value),
        "started_at": outcome.started_at,
        "completed_at": outcome.completed_at,
        "external_object_refs": list(outcome.external_object_refs),
        "error_message": outcome.error_message,
        "error_class": outcome.error_class,
        "error_code": outcome.error_code,
        "attempt_count": outcome.attempt_count,
    }


def _summary_from_attempt(attempt: ExecutionAttempt) -> dict[str, Any]:
    """A running attempt shows when it started (an in-doubt one's provisional error stays internal);
    a terminal one carries its outcome's summary, written in the outcome's transaction."""
    if attempt.status is AttemptStatus.RUNNING:
        return {
            "status": ApiStatus.RUNNING,
            "started_at": attempt.started_at,
            "attempt_count": attempt.attempt_count,
        }
    return {
        "status": ApiStatus(attempt.status.value),
        "started_at": attempt.started_at,
        "completed_at": attempt.completed_at,
        "external_object_refs": list(attempt.external_object_refs),
        "error_message": attempt.error_message,
        "error_class": attempt.error_class,
        "error_code": attempt.error_code,
        "attempt_count": attempt.attempt_count,
    }


def _labels_from_attempt(attempt: ExecutionAttempt) -> dict[str, Any]:
    expires = attempt.expires_at_epoch
    return {
        "action_type": attempt.action_type,
        "account_id": attempt.account_id,
        "approved_at": attempt.approved_at,
        "expires_at": datetime.fromtimestamp(expires, UTC) if expires is not None else None,
        "failed_stage": attempt.failed_stage if attempt.is_terminal else None,
    }


def _labels_from_intent(intent: ActionIntent | None, outcome: ActionOutcome | None) -> dict[str, Any]:
    if intent is not None:
        return {
            "action_type": intent.action_type,
            "account_id": intent.account_id,
            "approved_at": intent.approval_timestamp,
            "expires_at": datetime.fromtimestamp(intent.expires_at_epoch, UTC),
        }
    if outcome is not None:
        return {"action_type": outcome.action_type, "account_id": outcome.account_id}
    return {}


class LedgerView(FrozenModel):
    """One audit entry as the API shows it: when, what kind, and a few classified facts. Free text
    (messages), trace and tool references and every key stay internal."""

    at: UtcDatetime
    kind: LedgerEventType
    attempt_count: Annotated[int, Field(ge=0)]
    status: OutcomeStatus | None = None
    error_class: ErrorClass | None = None
    error_code: ErrorCode | None = None
    failed_stage: PipelineStage | None = None
    signal_type: SignalType | None = None


_LEDGER_DETAILS: dict[str, Callable[[str], object]] = {
    "status": OutcomeStatus,
    "error_class": ErrorClass,
    "error_code": ErrorCode,
    "failed_stage": PipelineStage,
    "signal_type": SignalType,
}


def ledger_view(entry: LedgerEntry) -> dict[str, Any]:
    """The API form of ``entry``: only the details named in ``_LEDGER_DETAILS``, and only values of their
    type (a detail that is not one is left out, never a 500)."""
    facts: dict[str, object] = {}
    for name, parse in _LEDGER_DETAILS.items():
        raw = entry.details.get(name)
        if isinstance(raw, str):
            try:
                facts[name] = parse(raw)
            except ValueError:
                continue
    view = LedgerView(at=entry.occurred_at, kind=entry.event_type, attempt_count=entry.attempt_count, **facts)
    return view.model_dump(mode="json", exclude_none=True)


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


def parse_status_filter(raw: str | None) -> ApiStatus | None:
    """``status``: absent (or empty) means every status; otherwise exactly one ApiStatus name."""
    if raw is None or raw == "":
        return None
    if raw not in ApiStatus.__members__:
        raise InvalidStatusFilterError(raw[:64])
    return ApiStatus(raw)


def parse_limit(raw: str | None) -> int:
    """``limit``: absent (or empty) means the default; otherwise a whole number from 1 to 100."""
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidLimitError(raw[:64])
    return int(raw)


def list_scope(tenant_id: str, account_id: str, page_size: int, status: ApiStatus | None) -> dict[str, str]:
    """What a page token is bound to: the route, tenant, account, page size and, when filtered, the
    status (an unfiltered scope has no status at all, so neither kind of token verifies as the other)."""
    scope = {"route": LIST_ROUTE, "tenant_id": tenant_id, "account_id": account_id, "limit": str(page_size)}
    if status is not None:
        scope["status"] = status.value
    return scope


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

    def _authorize_account(self, caller: Caller, account: str) -> None:
        granted = caller.grant_for(account)
        if granted is None:
            granted = self._tenants.is_account_member(caller.tenant_id, account)
        if not granted:
            raise ForbiddenError("the account is not in the caller's grants")

    def list_executions(
        self,
        caller: Caller,
        account_id: str | None,
        limit: str | None,
        next_token: str | None,
        status: str | None = None,
    ) -> ExecutionPage:
        """One page of the account's executions, newest first, optionally of one status only.

        The status filter is the key of AccountStatusIndex (one Query per page, pages never short while
        more match). No list row is ever PENDING (the list reads attempts, and an attempt is RUNNING or
        terminal), so ``status=PENDING`` is an empty last page without a read (ADR 0010).
        """
        account = require_identifier(account_id, "account_id", "path")
        wanted = parse_status_filter(status)
        self._authorize_account(caller, account)
        page_size = parse_limit(limit)
        scope = list_scope(caller.tenant_id, account, page_size, wanted)
        now = self._clock()
        start = self._tokens.read(next_token, scope, now) if next_token is not None else None
        if wanted is ApiStatus.PENDING:
            return ExecutionPage([], None)
        try:
            page = self._reader.list_executions(
                caller.tenant_id,
                account,
                page_size,
                start,
                status=AttemptStatus(wanted.value) if wanted else None,
            )
        except InvalidInputError:
            if start is None:
                raise
            # A signed position that still does not fit the query (the repository re-checks it).
            raise InvalidPaginationTokenError() from None
        token = self._tokens.issue(page.next_key, scope, now) if page.next_key else None
        return ExecutionPage([status_from_attempt(a) for a in page.items], token)

    def list_accounts(self, caller: Caller) -> list[str]:
        """The caller's accounts, sorted: the token's grants when it lists them, else the tenant's
        membership records (the same sources, in the same order, that authorize every other route)."""
        if caller.account_ids is not None:
            return sorted(caller.account_ids)
        return self._tenants.list_accounts(caller.tenant_id)

    def get_ledger(
        self, caller: Caller, action_intent_id: str | None, account_id: str | None
    ) -> list[LedgerEntry]:
        """The intent's audit trail, oldest first, under exactly the status route's 400/403/404 rules: the
        same read decides access and existence, then one Query reads the trail (entries of other accounts
        of the tenant are not this account's, so they are left out)."""
        intent_id = require_identifier(action_intent_id, "action_intent_id", "path")
        account = require_identifier(account_id, "account_id", "query")
        self.get_status(caller, intent_id, account)
        entries = self._reader.ledger_for_intent(caller.tenant_id, intent_id)
        return [entry for entry in entries if entry.account_id == account]
