"""ExecutionAttempts table: the lease that makes one execution own an intent, plus its outcome summary."""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from execution_core.errors import (
    ErrorClass,
    ErrorCode,
    InvalidInputError,
    StateConflictError,
    TransactionConditionFailedError,
)
from execution_core.models.common import format_timestamp
from execution_core.models.execution import AttemptStatus, ExecutionAttempt, ExternalObjectRef, PipelineStage
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
    pages,
    string_key,
    to_item,
    transact_write,
    values,
)
from execution_core.sanitize import sanitize_message

STORAGE_ATTRIBUTES = ("pk", "sk", "started_sk", "ttl", "running_pk", "running_sk", "status_pk")
ACCOUNT_STARTED_INDEX = "AccountStartedIndex"
# An account's attempts of one status, newest first: the list's status filter as a key condition. Its
# partition key (status_pk) is written with the status itself, by the same Put/Update that changes it.
ACCOUNT_STATUS_INDEX = "AccountStatusIndex"
# Sparse index of RUNNING attempts, oldest first: the sweeper's work list. Its keys exist only while an
# attempt runs (finalizing removes them), so the index holds exactly the attempts still open.
RUNNING_INDEX = "RunningIndex"
RUNNING_PARTITION = "RUNNING"
_INDEX_KEY_NAMES = frozenset({"pk", "sk", "started_sk"})
_STATUS_INDEX_KEY_NAMES = frozenset({"pk", "sk", "started_sk", "status_pk"})
MAX_PAGE_SIZE = 100


class LeaseOutcome(StrEnum):
    ACQUIRED = "ACQUIRED"
    HELD = "HELD"  # another execution owns the lease and is still running: stop without touching anything
    TERMINAL = "TERMINAL"  # the intent already finished: never overwritten


@dataclass(frozen=True)
class LeaseResult:
    outcome: LeaseOutcome
    attempt: ExecutionAttempt
    taken_over: bool = False  # acquired from an execution that is no longer running
    reentered: bool = False  # the same lease id asked again (a retried prepare): nothing was written

    @property
    def acquired(self) -> bool:
        return self.outcome is LeaseOutcome.ACQUIRED


HolderRunning = Callable[[str], bool]
"""Asks the platform whether the execution with this ARN is still running (DescribeExecution)."""


class ExecutionAttemptRepository(TableRepository):
    @staticmethod
    def key(tenant_id: str, account_id: str, action_intent_id: str) -> dict[str, Any]:
        return key(pk=keys.account_pk(tenant_id, account_id), sk=keys.execution_sk(action_intent_id))

    def _item(self, attempt: ExecutionAttempt) -> Item:
        started = keys.started_sk(format_timestamp(attempt.started_at), attempt.action_intent_id)
        running: dict[str, str] = {}
        if not attempt.is_terminal:
            running = {
                "running_pk": RUNNING_PARTITION,
                "running_sk": keys.running_sk(started, attempt.tenant_id, attempt.account_id),
            }
        return to_item(
            attempt,
            pk=keys.account_pk(attempt.tenant_id, attempt.account_id),
            sk=keys.execution_sk(attempt.action_intent_id),
            started_sk=started,
            status_pk=keys.account_status_pk(attempt.tenant_id, attempt.account_id, attempt.status.value),
            **running,
        )

    def _parse(self, item: Item) -> ExecutionAttempt:
        return model_from_item(ExecutionAttempt, item, STORAGE_ATTRIBUTES)

    def acquire_lease(
        self,
        claim: ExecutionAttempt,
        *,
        started_entry: TransactItem,
        holder_running: HolderRunning,
    ) -> LeaseResult:
        """Take the intent's lease for ``claim`` (a RUNNING attempt), writing ``started_entry`` with it.

        A new lease and its EXECUTION_STARTED ledger entry are one transaction. The same lease id asking
        again re-enters it (a retried prepare writes nothing). Another execution's lease is taken over
        only when that execution is no longer running, and only asked about once its lease has expired:
        time alone never hands an intent to a second execution. A terminal record is never changed.
        """
        if claim.is_terminal:
            raise InvalidInputError("A lease is claimed by a RUNNING attempt")
        entries = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self._item(claim),
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            started_entry,
        ]
        try:
            transact_write(self._client, entries)
            return LeaseResult(LeaseOutcome.ACQUIRED, claim)
        except TransactionConditionFailedError as cancelled:
            # Only the ledger entry exists (written by an earlier holder): the lease alone is new.
            if not cancelled.failed(0) and self._put_if_absent(entries[0]["Put"], "acquire lease"):
                return LeaseResult(LeaseOutcome.ACQUIRED, claim)
            stored = cancelled.items[0]
            existing = self._parse(stored) if stored else self._current(claim)
        return self._contest(existing, claim, holder_running)

    def _contest(
        self, existing: ExecutionAttempt, claim: ExecutionAttempt, holder_running: HolderRunning
    ) -> LeaseResult:
        """The intent already has an attempt: re-enter it, wait for its holder, or take it over."""
        if existing.is_terminal:
            return LeaseResult(LeaseOutcome.TERMINAL, existing)
        if existing.lease_id == claim.lease_id:
            return LeaseResult(LeaseOutcome.ACQUIRED, existing, reentered=True)
        expired = existing.lease_expires_at < int(claim.updated_at.timestamp())
        if not expired or (existing.execution_arn and holder_running(existing.execution_arn)):
            return LeaseResult(LeaseOutcome.HELD, existing)
        return self._take_over(existing, claim)

    def _current(self, claim: ExecutionAttempt) -> ExecutionAttempt:
        current = self.get(claim.tenant_id, claim.account_id, claim.action_intent_id)
        if current is None:  # attempts are never deleted; if one vanished, stop rather than guess
            raise StateConflictError("The execution attempt changed while the lease was being taken")
        return current

    def _take_over(self, previous: ExecutionAttempt, claim: ExecutionAttempt) -> LeaseResult:
        fields = {
            "lease_id": claim.lease_id,
            "lease_expires_at": claim.lease_expires_at,
            "updated_at": format_timestamp(claim.updated_at),
            "trace_id": claim.trace_id,
            "execution_arn": claim.execution_arn,
            "idempotency_key": claim.idempotency_key,
            "action_type": claim.action_type,
            "original_decision_id": claim.original_decision_id,
            "tool_name": claim.tool_name,
            "tool_schema_version": claim.tool_schema_version,
            "registry_version": claim.registry_version,
            "adapter_function": claim.adapter_function,
            "expires_at_epoch": claim.expires_at_epoch,
            "approved_at": format_timestamp(claim.approved_at) if claim.approved_at else None,
        }
        present = {name: value for name, value in fields.items() if value is not None}
        update = "SET attempt_count = attempt_count + :one, " + ", ".join(f"{n} = :{n}" for n in present)
        with dynamo_errors("take over lease"):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=self.key(previous.tenant_id, previous.account_id, previous.action_intent_id),
                    UpdateExpression=update,
                    # The lease id pins the exact lease we looked at: two takers cannot both win.
                    ConditionExpression="#status = :running AND lease_id = :old_lease",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values(
                        one=1, running=AttemptStatus.RUNNING.value, old_lease=previous.lease_id, **present
                    ),
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return LeaseResult(
                    LeaseOutcome.ACQUIRED, self._parse(response["Attributes"]), taken_over=True
                )
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                stored = old_item(exc)
        winner = self._parse(stored) if stored else self._current(claim)
        if winner.lease_id == claim.lease_id:
            return LeaseResult(LeaseOutcome.ACQUIRED, winner, reentered=True)
        return LeaseResult(LeaseOutcome.TERMINAL if winner.is_terminal else LeaseOutcome.HELD, winner)

    def lease_held_check(
        self,
        tenant_id: str,
        account_id: str,
        action_intent_id: str,
        *,
        lease_id: str,
        idempotency_key: str,
        now_epoch: int,
    ) -> TransactItem:
        """TransactWriteItems ConditionCheck: this lease still owns the intent, with this key, unexpired.

        Every side-effect attempt commits only together with this check, so a lost lease, a forged
        payload or an expired intent can never make an effect.
        """
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": self.key(tenant_id, account_id, action_intent_id),
                "ConditionExpression": (
                    "#status = :running AND lease_id = :lease AND idempotency_key = :idem"
                    " AND expires_at_epoch > :now"
                ),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": values(
                    running=AttemptStatus.RUNNING.value, lease=lease_id, idem=idempotency_key, now=now_epoch
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def parse_item(self, item: Item) -> ExecutionAttempt:
        """An attempt from a stored item (e.g. one a cancelled transaction returned)."""
        return self._parse(item)

    def mark_in_doubt(
        self,
        tenant_id: str,
        account_id: str,
        action_intent_id: str,
        *,
        lease_id: str,
        now: datetime,
        error: str,
        message: str,
    ) -> bool:
        """Flag the attempt (still RUNNING, lease kept) as waiting for the reconciler; False if not ours.

        The error the pipeline gave up with is kept, so it is the outcome if the write did not happen.
        """
        with dynamo_errors("mark attempt in doubt"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self.key(tenant_id, account_id, action_intent_id),
                    UpdateExpression=(
                        "SET in_doubt = :yes, updated_at = :now,"
                        " last_error = :error, error_message = :message"
                    ),
                    ConditionExpression="#status = :running AND lease_id = :lease",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values(
                        yes=True,
                        now=format_timestamp(now),
                        running=AttemptStatus.RUNNING.value,
                        lease=lease_id,
                        error=error[:256],
                        message=sanitize_message(message),
                    ),
                )
            except ClientError as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True

    def list_running(self, due_before: datetime, limit: int) -> list[ExecutionAttempt]:
        """RUNNING attempts the sweeper should look at before ``due_before``, in that order (its page).

        An attempt is due from its start, or from when the sweeper last put it back (``defer_sweep``).
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        with dynamo_errors("list running attempts"):
            response = self._client.query(
                TableName=self._table,
                IndexName=RUNNING_INDEX,
                KeyConditionExpression="running_pk = :running AND running_sk < :before",
                ExpressionAttributeValues=values(
                    running=RUNNING_PARTITION, before=format_timestamp(due_before)
                ),
                ScanIndexForward=True,
                Limit=limit,
            )
        return [self._parse(item) for item in response.get("Items", [])]

    def list_started_before(self, started_before: datetime, limit: int) -> list[ExecutionAttempt]:
        """RUNNING attempts that started before ``started_before`` (an operator's "stuck" list), however
        often the sweeper has deferred them: the whole index is read, page by page, up to ``limit``."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        found: list[ExecutionAttempt] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": RUNNING_INDEX,
            "KeyConditionExpression": "running_pk = :running",
            "ExpressionAttributeValues": values(running=RUNNING_PARTITION),
        }
        for page in pages(self._client, "query", request, "list stuck attempts"):
            found.extend(attempt for attempt in map(self._parse, page) if attempt.started_at < started_before)
            if len(found) >= limit:
                break
        return sorted(found, key=lambda attempt: attempt.started_at)[:limit]

    def defer_sweep(self, attempt: ExecutionAttempt, until: datetime) -> bool:
        """Put a RUNNING attempt the sweeper could not settle back in its queue until ``until``, so the
        ones behind it are reached (an attempt in doubt under a long stop never blocks the others).
        False when it is no longer RUNNING under this lease."""
        due = keys.started_sk(format_timestamp(until), attempt.action_intent_id)
        with dynamo_errors("defer sweep"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self.key(attempt.tenant_id, attempt.account_id, attempt.action_intent_id),
                    UpdateExpression="SET running_sk = :due",
                    ConditionExpression=(
                        "#status = :running AND lease_id = :lease AND attribute_exists(running_sk)"
                    ),
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values(
                        due=keys.running_sk(due, attempt.tenant_id, attempt.account_id),
                        running=AttemptStatus.RUNNING.value,
                        lease=attempt.lease_id,
                    ),
                )
            except ClientError as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True

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
        idempotency_key: str | None = None,
        failed_stage: PipelineStage | None = None,
    ) -> TransactItem:
        """TransactWriteItems entry: close the attempt, only while this lease (and key) still owns it.

        The status and its AccountStatusIndex key change together, so the filtered list sees the
        attempt under its new status exactly when the unfiltered one does."""
        if status is AttemptStatus.RUNNING:
            raise InvalidInputError("An attempt is finalized with a terminal status")
        stamp = format_timestamp(now)
        sets = [
            "#status = :status",
            "status_pk = :status_pk",
            "updated_at = :now",
            "completed_at = :now",
            "external_object_refs = :refs",
        ]
        refs = [json.loads(ref.model_dump_json(exclude_none=True)) for ref in external_object_refs]
        vals = values(
            status=status.value,
            status_pk=keys.account_status_pk(tenant_id, account_id, status.value),
            now=stamp,
            refs=refs,
            running=AttemptStatus.RUNNING.value,
            lease=lease_id,
        )
        removes = ["in_doubt", "last_error", "running_pk", "running_sk"]
        for name, value in (
            ("error_class", error_class),
            ("error_code", error_code),
            ("failed_stage", failed_stage),
        ):
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
        expression = "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes)
        condition = "#status = :running AND lease_id = :lease"
        if idempotency_key is not None:
            condition += " AND idempotency_key = :idem"
            vals.update(values(idem=idempotency_key))
        return {
            "Update": {
                "TableName": self._table,
                "Key": self.key(tenant_id, account_id, action_intent_id),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
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

    def backfill_status_keys(self) -> int:
        """Give every attempt written before AccountStatusIndex its ``status_pk`` (ADR 0010); returns how
        many were updated. A one-off operator task, never a request path: a Scan for items without the
        key, then one conditional update each, which only sets the key for the status the item still
        has (an attempt finalized meanwhile got its key from the finalize update). Safe to re-run."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "attribute_not_exists(status_pk)",
            "ProjectionExpression": "pk, sk, #status",
            "ExpressionAttributeNames": {"#status": "status"},
        }
        updated = 0
        for page in pages(self._client, "scan", request, "scan attempts for the status backfill"):
            for item in page:
                stored = string_key(item) or {}
                with dynamo_errors("backfill attempt status key"):
                    try:
                        self._client.update_item(
                            TableName=self._table,
                            Key=key(pk=stored["pk"], sk=stored["sk"]),
                            UpdateExpression="SET status_pk = :status_pk",
                            ConditionExpression="attribute_not_exists(status_pk) AND #status = :status",
                            ExpressionAttributeNames={"#status": "status"},
                            ExpressionAttributeValues=values(
                                status_pk=keys.status_pk_for(stored["pk"], stored["status"]),
                                status=stored["status"],
                            ),
                        )
                        updated += 1
                    except ClientError as exc:
                        if not is_condition_failure(exc):
                            raise
        return updated

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
        self,
        tenant_id: str,
        account_id: str,
        limit: int,
        start: dict[str, str] | None = None,
        status: AttemptStatus | None = None,
    ) -> Page[ExecutionAttempt]:
        """An account's attempts, newest first; ``start`` is a previous page's ``next_key``.

        With ``status``, only the attempts in that status, read from AccountStatusIndex by its key (never
        a FilterExpression, which would return short or empty pages while more match): still one Query.

        ``next_key`` is set only when an item follows the page. DynamoDB returns a LastEvaluatedKey
        whenever a Query with ``Limit=N`` stops at N items, even when none follow, so the query reads one
        item past the page (``Limit=N+1``, still one round trip): the extra item proves there is more,
        and the position is the Nth item's key (the next page starts right after it). A page DynamoDB
        cut short by its 1 MB limit keeps the LastEvaluatedKey it returned.
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        pk = keys.account_pk(tenant_id, account_id)
        if status is None:
            index, condition, partition, names = (
                ACCOUNT_STARTED_INDEX,
                "pk = :pk",
                {"pk": pk},
                _INDEX_KEY_NAMES,
            )
        else:
            status_pk = keys.account_status_pk(tenant_id, account_id, status.value)
            index, condition = ACCOUNT_STATUS_INDEX, "status_pk = :pk"
            partition, names = {"pk": pk, "status_pk": status_pk}, _STATUS_INDEX_KEY_NAMES
        with dynamo_errors("list execution attempts"):
            response = self._client.query(
                TableName=self._table,
                IndexName=index,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values(pk=partition.get("status_pk", pk)),
                ScanIndexForward=False,
                Limit=limit + 1,
                **start_key(start, partition, names),
            )
        raw = list(response.get("Items", []))
        if len(raw) > limit:
            raw = raw[:limit]
            next_key = string_key({name: raw[-1][name] for name in sorted(names)})
        else:
            # N items or fewer: a LastEvaluatedKey now can only mean the 1 MB cut, so more may follow.
            next_key = string_key(response.get("LastEvaluatedKey"))
        return Page([self._parse(item) for item in raw], next_key)
