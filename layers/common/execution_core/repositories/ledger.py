"""Ledger table: the append-only audit trail, queryable by tenant and time and by trace."""

from typing import TYPE_CHECKING, Any

from execution_core.errors import InvalidInputError
from execution_core.models.common import format_timestamp
from execution_core.models.ledger import LedgerEntry, LedgerEventType
from execution_core.repositories import keys
from execution_core.repositories.base import Page, TableRepository, start_key
from execution_core.repositories.dynamo import (
    TransactItem,
    dynamo_errors,
    key,
    model_from_item,
    pages,
    string_key,
    to_item,
    values,
)

if TYPE_CHECKING:  # only operators' switch changes use it (execctl): no function's cold start creates it
    from execution_core.models.tenant import SwitchChange

STORAGE_ATTRIBUTES = ("pk", "sk", "occurred_sk")
TENANT_TIME_INDEX = "TenantTimeIndex"
TRACE_INDEX = "TraceIndex"
MAX_PAGE_SIZE = 200


class LedgerRepository(TableRepository):
    def ledger_put_item(self, entry: LedgerEntry, *, attributed: bool = True) -> TransactItem:
        """TransactWriteItems entry: append ``entry``; a second entry of the same kind is refused.

        ``attributed=False`` keeps it out of the tenant it names (see keys.UNATTRIBUTED_PK)."""
        item = to_item(
            entry,
            pk=keys.tenant_pk(entry.tenant_id) if attributed else keys.UNATTRIBUTED_PK,
            sk=keys.ledger_sk(entry.action_intent_id, entry.event_type, entry.execution_name),
            occurred_sk=keys.occurred_sk(
                format_timestamp(entry.occurred_at), entry.event_type, entry.action_intent_id
            ),
        )
        return {
            "Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        }

    def put(self, entry: LedgerEntry) -> bool:
        """Append outside a transaction; False if this intent already has an entry of this type."""
        return self._put_if_absent(self.ledger_put_item(entry)["Put"], "append ledger entry")

    def put_unattributed(self, entry: LedgerEntry) -> bool:
        """Append an entry about an approval no stored intent vouches for, outside every tenant."""
        return self._put_if_absent(
            self.ledger_put_item(entry, attributed=False)["Put"], "append unattributed ledger entry"
        )

    def list_unattributed(self, limit: int) -> list[LedgerEntry]:
        """The newest ``limit`` unattributed entries (approvals of intents that were never stored)."""
        page = self._query(
            TENANT_TIME_INDEX,
            condition="pk = :pk",
            vals=values(pk=keys.UNATTRIBUTED_PK),
            limit=limit,
            extra={},
            newest_first=True,
        )
        return list(page.items)

    def switch_change_put_item(self, change: "SwitchChange") -> TransactItem:
        """TransactWriteItems entry: the audit record of an operator's kill-switch change. It commits with
        the change itself, so no switch changes without a record of who changed it and why."""
        item = to_item(
            change,
            pk=keys.OPERATOR_AUDIT_PK,
            sk=keys.switch_change_sk(format_timestamp(change.changed_at), change.change_id),
        )
        return {
            "Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        }

    def list_switch_changes(self, limit: int) -> list["SwitchChange"]:
        """The newest ``limit`` kill-switch changes, newest first."""
        from execution_core.models.tenant import SwitchChange

        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        with dynamo_errors("list switch changes"):
            response = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues=values(pk=keys.OPERATOR_AUDIT_PK, prefix=keys.SWITCH_CHANGE_PREFIX),
                ScanIndexForward=False,
                Limit=limit,
                ConsistentRead=True,
            )
        return [model_from_item(SwitchChange, item, ("pk", "sk")) for item in response.get("Items", [])]

    def get(self, tenant_id: str, action_intent_id: str, event_type: LedgerEventType) -> LedgerEntry | None:
        with dynamo_errors("get ledger entry"):
            response = self._client.get_item(
                TableName=self._table,
                Key=key(pk=keys.tenant_pk(tenant_id), sk=keys.ledger_sk(action_intent_id, event_type)),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return model_from_item(LedgerEntry, item, STORAGE_ATTRIBUTES) if item else None

    def list_for_intent(self, tenant_id: str, action_intent_id: str) -> list[LedgerEntry]:
        """One intent's whole audit trail (a handful of entries), oldest first."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": values(
                pk=keys.tenant_pk(tenant_id), prefix=keys.ledger_intent_prefix(action_intent_id)
            ),
            "ConsistentRead": True,
        }
        entries = [
            model_from_item(LedgerEntry, item, STORAGE_ATTRIBUTES)
            for page in pages(self._client, "query", request, "list intent ledger")
            for item in page
        ]
        return sorted(entries, key=lambda e: (e.occurred_at, e.event_type.value))

    def list_for_tenant(
        self, tenant_id: str, limit: int, start: dict[str, str] | None = None, newest_first: bool = True
    ) -> Page[LedgerEntry]:
        """A tenant's entries by time (for "tail the ledger")."""
        pk = keys.tenant_pk(tenant_id)
        return self._query(
            TENANT_TIME_INDEX,
            condition="pk = :pk",
            vals=values(pk=pk),
            limit=limit,
            extra=start_key(start, {"pk": pk}, frozenset({"pk", "sk", "occurred_sk"})),
            newest_first=newest_first,
        )

    def list_for_trace(
        self, trace_id: str, limit: int, start: dict[str, str] | None = None
    ) -> Page[LedgerEntry]:
        """Every entry of one decision trace, oldest first."""
        return self._query(
            TRACE_INDEX,
            condition="trace_id = :trace",
            vals=values(trace=trace_id),
            limit=limit,
            extra=start_key(
                start, {"trace_id": trace_id}, frozenset({"pk", "sk", "occurred_sk", "trace_id"})
            ),
            newest_first=False,
        )

    def _query(
        self,
        index: str,
        *,
        condition: str,
        vals: dict[str, Any],
        limit: int,
        extra: dict[str, Any],
        newest_first: bool,
    ) -> Page[LedgerEntry]:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        with dynamo_errors("query ledger"):
            response = self._client.query(
                TableName=self._table,
                IndexName=index,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=vals,
                ScanIndexForward=not newest_first,
                Limit=limit,
                **extra,
            )
        items = [model_from_item(LedgerEntry, item, STORAGE_ATTRIBUTES) for item in response.get("Items", [])]
        return Page(items, string_key(response.get("LastEvaluatedKey")))
