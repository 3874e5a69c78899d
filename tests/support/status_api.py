"""Status API fixtures, shared by tests/integration/status_api and tests/local_runtime (each conftest imports
them): the local API server on the session runtime, fresh tenants with real Cognito users, and a writer for
the records the API reads (written with the repositories, not the pipeline)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models import (
    ActionIntent,
    ActionOutcome,
    AttemptStatus,
    ExecutionAttempt,
    ExternalObjectRef,
    LedgerEntry,
    LedgerEventType,
    OutcomeStatus,
    PipelineStage,
    TenantConfig,
)
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.dynamo import transact_write
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.outcomes import ExecutionOutcomeRepository
from execution_core.repositories.tenants import TenantRepository
from local_runtime.api_server import LocalApiServer
from local_runtime.demo_users import id_token_for
from local_runtime.emulator import LocalStack
from local_runtime.intents import new_intent

ORIGIN = "http://localhost:3000"  # the template's default AllowedOrigins
FUNCTION = "ExecutionStatusApiFunction"


@pytest.fixture(scope="session")
def api(runtime: LocalStack) -> Iterator[LocalApiServer]:
    with LocalApiServer(runtime) as server:
        yield server


@dataclass
class Records:
    """Writes intents, attempts and outcomes exactly as the pipeline stores them."""

    stack: LocalStack
    base: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __post_init__(self) -> None:
        ddb = self.stack.client("dynamodb")
        outputs = self.stack.outputs()
        self.ddb = ddb
        self.intents = ActionIntentRepository(ddb, outputs["ActionIntentsTableName"])
        self.attempts = ExecutionAttemptRepository(ddb, outputs["ExecutionAttemptsTableName"])
        self.outcomes = ExecutionOutcomeRepository(ddb, outputs["ExecutionOutcomesTableName"])
        self.ledger = LedgerRepository(ddb, outputs["LedgerTableName"])
        self.tenants = TenantRepository(ddb, outputs["TenantsTableName"])

    def members(self, tenant_id: str, *account_ids: str) -> None:
        """Make the accounts members of the tenant as tenants are configured: ``put_config`` (an enabled
        config, one membership item per account; earlier members stay)."""
        config = TenantConfig(tenant_id=tenant_id, execution_enabled=True, account_ids=list(account_ids))
        self.tenants.put_config(config)

    def intent(
        self,
        tenant_id: str,
        account_id: str,
        intent_id: str | None = None,
        expires_in: timedelta = timedelta(hours=1),
    ) -> ActionIntent:
        intent = new_intent(
            tenant_id, account_id, "CREATE_INTERNAL_NOTE", {"title": "t"}, expires_in=expires_in
        )
        if intent_id is not None:
            intent = intent.model_copy(update={"action_intent_id": intent_id})
        assert self.intents.put(intent)
        return intent

    def attempt(
        self,
        tenant_id: str,
        account_id: str,
        intent_id: str,
        status: AttemptStatus,
        started_at: datetime | None = None,
    ) -> ExecutionAttempt:
        started = started_at or self.base
        if status is AttemptStatus.RUNNING:
            claim = ExecutionAttempt(
                action_intent_id=intent_id,
                tenant_id=tenant_id,
                account_id=account_id,
                status=AttemptStatus.RUNNING,
                attempt_count=1,
                lease_id=f"lease-{intent_id}",
                lease_expires_at=int(started.timestamp()) + 900,
                started_at=started,
                updated_at=started,
                trace_id=f"trace-{intent_id}",
                **_labels(started),
            )
            started_entry = LedgerEntry(
                tenant_id=tenant_id,
                account_id=account_id,
                action_intent_id=intent_id,
                event_type=LedgerEventType.EXECUTION_STARTED,
                occurred_at=started,
                trace_id=claim.trace_id,
                attempt_count=1,
            )
            result = self.attempts.acquire_lease(
                claim, started_entry=self.ledger.ledger_put_item(started_entry), holder_running=lambda _: True
            )
            assert result.acquired
            return result.attempt
        attempt = self._terminal_attempt(tenant_id, account_id, intent_id, status, started)
        transact_write(self.ddb, [self.attempts.attempt_put_terminal_item(attempt)])
        return attempt

    def finished(
        self,
        tenant_id: str,
        account_id: str,
        intent_id: str,
        status: OutcomeStatus,
        started_at: datetime | None = None,
        *,
        with_attempt: bool = True,
        attempt_status: AttemptStatus | None = None,
    ) -> ActionOutcome:
        """An outcome (and, as RecordOutcome writes them, its attempt) in one transaction."""
        started = started_at or self.base
        outcome = _outcome(tenant_id, account_id, intent_id, status, started)
        entries = [self.outcomes.outcome_put_item(outcome)]
        if with_attempt:
            wanted = attempt_status or AttemptStatus(status.value)
            if wanted is AttemptStatus.RUNNING:
                self.attempt(tenant_id, account_id, intent_id, wanted, started)
            else:
                attempt = self._terminal_attempt(tenant_id, account_id, intent_id, wanted, started)
                entries.append(self.attempts.attempt_put_terminal_item(attempt))
        transact_write(self.ddb, entries)
        return outcome

    def _terminal_attempt(
        self, tenant_id: str, account_id: str, intent_id: str, status: AttemptStatus, started: datetime
    ) -> ExecutionAttempt:
        failed = status is not AttemptStatus.SUCCEEDED
        return ExecutionAttempt(
            action_intent_id=intent_id,
            tenant_id=tenant_id,
            account_id=account_id,
            status=status,
            attempt_count=1,
            lease_id=f"lease-{intent_id}",
            lease_expires_at=int(started.timestamp()) + 900,
            started_at=started,
            updated_at=started + timedelta(seconds=2),
            completed_at=started + timedelta(seconds=2),
            trace_id=f"trace-{intent_id}",
            error_class=ErrorClass.DOWNSTREAM if failed else None,
            error_code=ErrorCode.DOWNSTREAM_ERROR if failed else None,
            error_message="The CRM answered 503" if failed else None,
            failed_stage=PipelineStage.PERFORM if failed else None,
            external_object_refs=[] if failed else [_ref(intent_id)],
            **_labels(started),
        )

    def ledger_entry(
        self,
        tenant_id: str,
        account_id: str,
        intent_id: str,
        event_type: LedgerEventType,
        at: datetime,
        details: dict[str, str] | None = None,
    ) -> LedgerEntry:
        """One audit entry, as the pipeline appends it."""
        entry = LedgerEntry(
            tenant_id=tenant_id,
            account_id=account_id,
            action_intent_id=intent_id,
            event_type=event_type,
            occurred_at=at,
            trace_id=f"trace-{intent_id}",
            attempt_count=1,
            details=details or {},
        )
        assert self.ledger.put(entry)
        return entry


def _labels(started: datetime) -> dict[str, Any]:
    """What PrepareExecution copies from the intent onto the attempt (ADR 0010)."""
    return {
        "action_type": "CREATE_INTERNAL_NOTE",
        "approved_at": started - timedelta(minutes=1),
        "expires_at_epoch": int(started.timestamp()) + 3600,
    }


def _ref(intent_id: str) -> ExternalObjectRef:
    return ExternalObjectRef(system="INTERNAL", object_type="NOTE", object_id=f"note-{intent_id}")


def _outcome(
    tenant_id: str, account_id: str, intent_id: str, status: OutcomeStatus, started: datetime
) -> ActionOutcome:
    failed = status is not OutcomeStatus.SUCCEEDED
    return ActionOutcome(
        action_intent_id=intent_id,
        status=status,
        external_object_refs=[] if failed else [_ref(intent_id)],
        error_code=ErrorCode.DOWNSTREAM_ERROR if failed else None,
        error_class=ErrorClass.DOWNSTREAM if failed else None,
        error_message="The CRM answered 503" if failed else None,
        attempt_count=1,
        tool_name="internal.create_note",
        started_at=started,
        completed_at=started + timedelta(seconds=2),
        tenant_id=tenant_id,
        account_id=account_id,
        trace_id=f"trace-{intent_id}",
    )


@pytest.fixture(scope="session")
def records(runtime: LocalStack) -> Records:
    return Records(runtime)


@dataclass
class ApiTenant:
    """A fresh tenant with two accounts and a Cognito user whose claims grant both."""

    tenant_id: str
    account_ids: list[str]
    email: str
    stack: LocalStack

    def token(self) -> str:
        outputs = self.stack.outputs()
        return id_token_for(
            self.stack.client("cognito-idp"), outputs["UserPoolId"], outputs["UserPoolClientId"], self.email
        )


def create_user(stack: LocalStack, email: str, attributes: dict[str, str]) -> None:
    """A pool user with exactly these custom attributes (written with the admin API, as in production)."""
    cognito = stack.client("cognito-idp")
    cognito.admin_create_user(
        UserPoolId=stack.outputs()["UserPoolId"],
        Username=email,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
        + [{"Name": name, "Value": value} for name, value in attributes.items()],
        MessageAction="SUPPRESS",
    )


def new_tenant(
    stack: LocalStack, *, account_claim: bool = True, accounts: list[str] | None = None
) -> ApiTenant:
    suffix = uuid.uuid4().hex[:10]
    tenant_id = f"t-{suffix}"
    account_ids = accounts or [f"acct-{suffix}-a", f"acct-{suffix}-b"]
    email = f"user-{suffix}@example.com"
    attributes = {"custom:tenant_id": tenant_id}
    if account_claim:
        attributes["custom:account_ids"] = json.dumps(account_ids)
    create_user(stack, email, attributes)
    return ApiTenant(tenant_id, account_ids, email, stack)


@pytest.fixture
def tenant(runtime: LocalStack) -> ApiTenant:
    return new_tenant(runtime)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: requests.structures.CaseInsensitiveDict[str]


def call(api: LocalApiServer, path: str, token: str | None = None, **headers: str) -> Reply:
    sent = {"Origin": ORIGIN, **headers}
    if token is not None:
        sent["Authorization"] = token
    response = requests.get(api.url + path, headers=sent, timeout=30)
    body = response.json() if response.content else None
    return Reply(response.status_code, body, response.headers)
