"""Reads behind the status API: one BatchGetItem for an intent's three records, and account listings."""

from dataclasses import dataclass
from typing import Any

from execution_core.models.execution import ActionOutcome, AttemptStatus, ExecutionAttempt
from execution_core.models.intent import ActionIntent
from execution_core.models.ledger import LedgerEntry
from execution_core.repositories import attempts, intents, keys, outcomes
from execution_core.repositories.attempts import ExecutionAttemptRepository
from execution_core.repositories.base import Page
from execution_core.repositories.dynamo import batch_get, key, model_from_item
from execution_core.repositories.intents import ActionIntentRepository
from execution_core.repositories.ledger import LedgerRepository
from execution_core.repositories.outcomes import ExecutionOutcomeRepository


@dataclass(frozen=True)
class ExecutionRecords:
    """What exists for one intent in the caller's tenant/account; all None reads as 404."""

    intent: ActionIntent | None
    attempt: ExecutionAttempt | None
    outcome: ActionOutcome | None
    # Whether the account is a member of the tenant (Tenants table), when that was asked for.
    account_member: bool | None = None

    @property
    def found(self) -> bool:
        return any((self.intent, self.attempt, self.outcome))


class StatusReadRepository:
    def __init__(
        self,
        client: Any,
        intents_table: str,
        attempts_table: str,
        outcomes_table: str,
        *,
        tenants_table: str | None = None,
        ledger_table: str | None = None,
    ) -> None:
        self._client = client
        self._ledger = LedgerRepository(client, ledger_table) if ledger_table else None
        self._tenants_table = tenants_table
        self._intents_table = intents_table
        self._attempts_table = attempts_table
        self._outcomes_table = outcomes_table
        self._attempts = ExecutionAttemptRepository(client, attempts_table)

    def get_execution_records(
        self,
        tenant_id: str,
        account_id: str,
        action_intent_id: str,
        consistent: bool = False,
        check_membership: bool = False,
    ) -> ExecutionRecords:
        """One BatchGetItem across the three tables; keys embed the tenant, so nothing foreign is read.

        With ``check_membership`` the same request also reads the account's membership item of the
        Tenants table, so authorizing by membership costs no extra round trip.
        """
        ids = (tenant_id, account_id, action_intent_id)
        request: dict[str, Any] = {
            self._intents_table: {"Keys": [ActionIntentRepository.key(*ids)], "ConsistentRead": consistent},
            self._attempts_table: {
                "Keys": [ExecutionAttemptRepository.key(*ids)],
                "ConsistentRead": consistent,
            },
            self._outcomes_table: {
                "Keys": [ExecutionOutcomeRepository.key(*ids)],
                "ConsistentRead": consistent,
            },
        }
        if check_membership:
            if self._tenants_table is None:
                raise ValueError("membership checks need the tenants table")
            request[self._tenants_table] = {
                "Keys": [key(pk=keys.tenant_pk(tenant_id), sk=keys.account_member_sk(account_id))],
                "ProjectionExpression": "pk",
                "ConsistentRead": consistent,
            }
        found = batch_get(self._client, request, "read execution status")
        intent = _first(found.get(self._intents_table))
        attempt = _first(found.get(self._attempts_table))
        outcome = _first(found.get(self._outcomes_table))
        return ExecutionRecords(
            intent=model_from_item(ActionIntent, intent, intents.STORAGE_ATTRIBUTES) if intent else None,
            attempt=model_from_item(ExecutionAttempt, attempt, attempts.STORAGE_ATTRIBUTES)
            if attempt
            else None,
            outcome=model_from_item(ActionOutcome, outcome, outcomes.STORAGE_ATTRIBUTES) if outcome else None,
            account_member=bool(found.get(self._tenants_table))
            if check_membership and self._tenants_table
            else None,
        )

    def list_executions(
        self,
        tenant_id: str,
        account_id: str,
        limit: int,
        start: dict[str, str] | None = None,
        status: AttemptStatus | None = None,
    ) -> Page[ExecutionAttempt]:
        """An account's executions newest first (of one status when asked); attempts carry the outcome
        summary the list shows."""
        return self._attempts.list_for_account(tenant_id, account_id, limit, start, status=status)

    def ledger_for_intent(self, tenant_id: str, action_intent_id: str) -> list[LedgerEntry]:
        """The intent's audit trail in the caller's tenant, oldest first (one Query: a handful of items)."""
        if self._ledger is None:
            raise ValueError("ledger reads need the ledger table")
        return self._ledger.list_for_intent(tenant_id, action_intent_id)


def _first(items: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    return items[0] if items else None
