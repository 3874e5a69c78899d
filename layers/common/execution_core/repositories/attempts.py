"""ExecutionAttempts table: the lease that makes one execution own an intent, plus its outcome summary."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from execution_core.errors import ErrorClass, ErrorCode, InvalidInputError, StateConflictError
from execution_core.models import AttemptStatus, ExecutionAttempt, ExternalObjectRef, format_timestamp
from execution_core.repositories import keys
from execution_core.repositories.base import Page, TableRepository, start_key
from execution_core.repositories.dynamo import (
    Item,
    TransactItem,
    dynamo_errors,
    is_condition_failure,
    key,
    model_from_item,
    old_item,
    string_key,
    to_item,
    values,
)
from execution_core.sanitize import sanitize_message

STORAGE_ATTRIBUTES = ("pk", "sk", "started_sk", "ttl")
ACCOUNT_STARTED_INDEX = "AccountStartedIndex"
_INDEX_KEY_NAMES = frozenset({"pk", "sk", "started_sk"})
MAX_PAGE_SIZE = 100


class LeaseOutcome(StrEnum):
    ACQUIRED = "ACQUIRED"
    HELD = "HELD"  # another execution owns a live lease: this one must stop without touching anything
    TERMINAL = "TERMINAL"  # the intent already finished: never overwritten


@dataclass(frozen=True)
class LeaseResult:
    outcome: LeaseOutcome
    attempt: ExecutionAttempt
    taken_over: bool = False  # acquired from an execution whose lease had expired
    reentered: bool = False  # the same lease id asked again (a retried starter): nothing was written

    @property
    def acquired(self) -> bool:
        return self.outcome is LeaseOutcome.ACQUIRED


class ExecutionAttemptRepository(TableRepository):
    @staticmethod
    def key(tenant_id: str, account_id: str, action_intent_id: str) -> dict[str, Any]:
        return key(pk=keys.account_pk(tenant_id, account_id), sk=keys.execution_sk(action_intent_id))

    def _item(self, attempt: ExecutionAttempt) -> Item:
        return to_item(
            attempt,
            pk=keys.account_pk(attempt.tenant_id, attempt.account_id),
            sk=keys.execution_sk(attempt.action_intent_id),
            started_sk=keys.started_sk(format_timestamp(attempt.started_at), attempt.action_intent_id),
        )

    def _parse(self, item: Item) -> ExecutionAttempt:
        return model_from_item(ExecutionAttempt, item, STORAGE_ATTRIBUTES)

    def acquire_lease(
        self,
        *,
        tenant_id: str,
        account_id: str,
        action_intent_id: str,
        lease_id: str,
        trace_id: str,
        now: datetime,
        lease_seconds: int,
        execution_arn: str | None = None,
        idempotency_key: str | None = None,
    ) -> LeaseResult:
        """Take the intent's lease: new record, re-entry by the same lease, or takeover of an expired one.

        A terminal record is never changed; a live lease of another execution is never taken.
        """
        fresh = ExecutionAttempt(
            action_intent_id=action_intent_id,
            tenant_id=tenant_id,
            account_id=account_id,
            status=AttemptStatus.RUNNING,
            attempt_count=1,
            lease_id=lease_id,
            lease_expires_at=int(now.timestamp()) + lease_seconds,
            started_at=now,
            updated_at=now,
            trace_id=trace_id,
            execution_arn=execution_arn,
            idempotency_key=idempotency_key,
        )
        with dynamo_errors("acquire lease"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=self._item(fresh),
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return LeaseResult(LeaseOutcome.ACQUIRED, fresh)
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                existing = self._existing(exc, tenant_id, account_id, action_intent_id)
        if existing.is_terminal:
            return LeaseResult(LeaseOutcome.TERMINAL, existing)
        if existing.lease_id == lease_id:
            return LeaseResult(LeaseOutcome.ACQUIRED, existing, reentered=True)
        if existing.lease_expires_at >= int(now.timestamp()):
            return LeaseResult(LeaseOutcome.HELD, existing)
        return self._take_over(existing, fresh)

    def _existing(
        self, exc: ClientError, tenant_id: str, account_id: str, action_intent_id: str
    ) -> ExecutionAttempt:
        item = old_item(exc)
        if item is not None:
            return self._parse(item)
        current = self.get(tenant_id, account_id, action_intent_id)
        if current is None:  # attempts are never deleted; if one vanished, stop rather than guess
            raise StateConflictError("The execution attempt changed while the lease was being taken")
        return current

    def _take_over(self, expired: ExecutionAttempt, fresh: ExecutionAttempt) -> LeaseResult:
        names = {"#status": "status"}
        update = (
            "SET lease_id = :lease, lease_expires_at = :expires, updated_at = :now, trace_id = :trace,"
            " attempt_count = attempt_count + :one"
        )
        vals = values(
            lease=fresh.lease_id,
            expires=fresh.lease_expires_at,
            now=format_timestamp(fresh.updated_at),
            trace=fresh.trace_id,
            one=1,
            running=AttemptStatus.RUNNING.value,
            old_lease=expired.lease_id,
        )
        if fresh.execution_arn:
            update += ", execution_arn = :arn"
            vals.update(values(arn=fresh.execution_arn))
        if fresh.idempotency_key:
            update += ", idempotency_key = :idem"
            vals.update(values(idem=fresh.idempotency_key))
        with dynamo_errors("take over lease"):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=self.key(expired.tenant_id, expired.account_id, expired.action_intent_id),
                    UpdateExpression=update,
                    # The lease id pins the exact expired lease we looked at: two takers cannot both win.
                    ConditionExpression=(
                        "#status = :running AND lease_id = :old_lease AND lease_expires_at < :now_epoch"
                    ),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={**vals, **values(now_epoch=int(fresh.updated_at.timestamp()))},
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return LeaseResult(
                    LeaseOutcome.ACQUIRED, self._parse(response["Attributes"]), taken_over=True
                )
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                winner = self._existing(exc, expired.tenant_id, expired.account_id, expired.action_intent_id)
        outcome = LeaseOutcome.TERMINAL if winner.is_terminal else LeaseOutcome.HELD
        return LeaseResult(outcome, winner)

    def attempt_finalize_update(
        self,
        *,
        tenant_id: str,
        account_id: str,
        action_intent_id: str,
        lease_id: str,
        status: AttemptStatus,
        now: datetime,
        error_class: ErrorClass | None = None,
        error_code: ErrorCode | None = None,
        error_message: str | None = None,
        external_object_refs: Sequence[ExternalObjectRef] = (),
    ) -> TransactItem:
        """TransactWriteItems entry: close the attempt, only while this lease still owns it."""
        if status is AttemptStatus.RUNNING:
            raise InvalidInputError("An attempt is finalized with a terminal status")
        stamp = format_timestamp(now)
        sets = [
            "#status = :status",
            "updated_at = :now",
            "completed_at = :now",
            "external_object_refs = :refs",
        ]
        refs = [json.loads(ref.model_dump_json(exclude_none=True)) for ref in external_object_refs]
        vals = values(
            status=status.value, now=stamp, refs=refs, running=AttemptStatus.RUNNING.value, lease=lease_id
        )
        removes = []
        for name, value in (("error_class", error_class), ("error_code", error_code)):
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = :{name}")
                vals.update(values(**{name: value.value}))
        if error_message is None:
            removes.append("error_message")
        else:
            sets.append("error_message = :error_message")
            vals.update(values(error_message=sanitize_message(error_message)))
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "Update": {
                "TableName": self._table,
                "Key": self.key(tenant_id, account_id, action_intent_id),
                "UpdateExpression": expression,
                "ConditionExpression": "#status = :running AND lease_id = :lease",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": vals,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def attempt_put_terminal_item(self, attempt: ExecutionAttempt) -> TransactItem:
        """TransactWriteItems entry for a failure recorded before any lease existed (expired at start)."""
        if not attempt.is_terminal:
            raise InvalidInputError("Only a terminal attempt is written without a lease")
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._item(attempt),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def get(
        self, tenant_id: str, account_id: str, action_intent_id: str, consistent: bool = True
    ) -> ExecutionAttempt | None:
        with dynamo_errors("get execution attempt"):
            response = self._client.get_item(
                TableName=self._table,
                Key=self.key(tenant_id, account_id, action_intent_id),
                ConsistentRead=consistent,
            )
        item = response.get("Item")
        return self._parse(item) if item else None

    def list_for_account(
        self, tenant_id: str, account_id: str, limit: int, start: dict[str, str] | None = None
    ) -> Page[ExecutionAttempt]:
        """An account's attempts, newest first; ``start`` is a previous page's ``next_key``."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        pk = keys.account_pk(tenant_id, account_id)
        with dynamo_errors("list execution attempts"):
            response = self._client.query(
                TableName=self._table,
                IndexName=ACCOUNT_STARTED_INDEX,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=values(pk=pk),
                ScanIndexForward=False,
                Limit=limit,
                **start_key(start, {"pk": pk}, _INDEX_KEY_NAMES),
            )
        items = [self._parse(item) for item in response.get("Items", [])]
        return Page(items, string_key(response.get("LastEvaluatedKey")))
