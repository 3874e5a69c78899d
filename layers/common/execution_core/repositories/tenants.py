"""Tenants table: per-tenant kill switch config, account membership, and the global stop item."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from execution_core.errors import (
    ExecutionError,
    KillSwitchUnavailableError,
    StateConflictError,
    TransactionConditionFailedError,
)
from execution_core.models.common import format_timestamp
from execution_core.models.tenant import GlobalKillSwitch, TenantConfig
from execution_core.repositories import keys
from execution_core.repositories.base import TableRepository
from execution_core.repositories.dynamo import (
    Item,
    TransactItem,
    batch_get,
    dynamo_errors,
    from_item,
    key,
    model_from_item,
    pages,
    to_item,
    transact_write,
    values,
)

STORAGE_ATTRIBUTES = ("pk", "sk")
# Bounds the /accounts answer (the token's own list is bounded the same way by authz)
MAX_MEMBER_ACCOUNTS = 1000


@dataclass(frozen=True)
class KillSwitchState:
    """Everything preflight needs, read in one request. ``tenant_execution_enabled`` is None for an
    unknown tenant: deciding what that means (fail closed) is the kill switch service's job."""

    global_switch: GlobalKillSwitch
    tenant_execution_enabled: bool | None
    disabled_action_types: frozenset[str]


class TenantRepository(TableRepository):
    @staticmethod
    def _config_key(tenant_id: str) -> Item:
        return key(pk=keys.tenant_pk(tenant_id), sk=keys.TENANT_CONFIG_SK)

    @staticmethod
    def _global_key() -> Item:
        return key(pk=keys.GLOBAL_PK, sk=keys.KILL_SWITCH_SK)

    def put_config(self, config: TenantConfig) -> None:
        """Write the tenant's switches and add its accounts as members (one transaction).

        Accounts missing from ``config.account_ids`` are not removed; use ``remove_account``. Overwrites
        the switches: seeding only; an operator onboards a tenant with ``create_config``.
        """
        transact_write(self._client, self._config_entries(config, condition=None))

    def create_config(self, config: TenantConfig) -> bool:
        """Onboard a tenant: its switches and member accounts, only if the tenant does not exist yet (so a
        repeated onboarding never resets a kill switch someone turned on). False: it already existed."""
        try:
            transact_write(self._client, self._config_entries(config, condition="attribute_not_exists(pk)"))
        except TransactionConditionFailedError:
            return False
        return True

    def _config_entries(self, config: TenantConfig, condition: str | None) -> list[TransactItem]:
        pk = keys.tenant_pk(config.tenant_id)
        switches = to_item(config, pk=pk, sk=keys.TENANT_CONFIG_SK)
        del switches["account_ids"]  # membership lives in its own items, one per account
        put: dict[str, Any] = {"TableName": self._table, "Item": switches}
        if condition:
            put["ConditionExpression"] = condition
        entries: list[TransactItem] = [{"Put": put}]
        for account_id in config.account_ids:
            entries.append(
                {"Put": {"TableName": self._table, "Item": self._member_item(config.tenant_id, account_id)}}
            )
        return entries

    def _member_item(self, tenant_id: str, account_id: str) -> Item:
        return key(pk=keys.tenant_pk(tenant_id), sk=keys.account_member_sk(account_id)) | {
            "tenant_id": {"S": tenant_id},
            "account_id": {"S": account_id},
        }

    def get_config(self, tenant_id: str) -> TenantConfig | None:
        """The tenant's switches and member accounts, from one query of its partition."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": values(pk=keys.tenant_pk(tenant_id)),
            "ConsistentRead": True,
        }
        items = [item for page in pages(self._client, "query", request, "get tenant config") for item in page]
        config = next((i for i in items if i["sk"]["S"] == keys.TENANT_CONFIG_SK), None)
        if config is None:
            return None
        accounts = [keys.account_from_member_sk(i["sk"]["S"]) for i in items if i is not config]
        data = {k: v for k, v in from_item(config).items() if k not in STORAGE_ATTRIBUTES}
        return TenantConfig.model_validate({**data, "account_ids": sorted(accounts)})

    def global_switch_put_item(self, switch: GlobalKillSwitch, *, was_enabled: bool) -> TransactItem:
        condition = "enabled = :was" if was_enabled else "attribute_not_exists(pk) OR enabled = :was"
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(switch, pk=keys.GLOBAL_PK, sk=keys.KILL_SWITCH_SK),
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values(was=was_enabled),
            }
        }

    def tenant_execution_update_item(
        self, tenant_id: str, *, enabled: bool, was_enabled: bool, now: datetime
    ) -> TransactItem:
        return {
            "Update": {
                "TableName": self._table,
                "Key": self._config_key(tenant_id),
                "UpdateExpression": "SET execution_enabled = :enabled, updated_at = :now",
                "ConditionExpression": "attribute_exists(pk) AND execution_enabled = :was",
                "ExpressionAttributeValues": values(
                    enabled=enabled, was=was_enabled, now=format_timestamp(now)
                ),
            }
        }

    def action_type_update_item(
        self, config: TenantConfig, action_type: str, *, disabled: bool, now: datetime
    ) -> TransactItem:
        """Add ``action_type`` to the tenant's disabled list, or remove it from where it was read."""
        if disabled:
            update = (
                "SET disabled_action_types = list_append(if_not_exists(disabled_action_types, :empty), :one),"
                " updated_at = :now"
            )
            condition = "attribute_exists(pk) AND NOT contains(disabled_action_types, :action_type)"
            vals = values(empty=[], one=[action_type], action_type=action_type, now=format_timestamp(now))
        else:
            position = config.disabled_action_types.index(action_type)  # ValueError: not disabled
            update = f"REMOVE disabled_action_types[{position}] SET updated_at = :now"
            condition = f"attribute_exists(pk) AND disabled_action_types[{position}] = :action_type"
            vals = values(action_type=action_type, now=format_timestamp(now))
        return {
            "Update": {
                "TableName": self._table,
                "Key": self._config_key(config.tenant_id),
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": vals,
            }
        }

    def list_tenant_ids(self, limit: int = 1000) -> list[str]:
        """Every configured tenant (for an operator's "unknown tenant; these exist" answer).

        A Scan: the table holds one config item per tenant plus its memberships, tenants are few, and
        only the operator CLI asks; no request path of the pipeline or the API ever scans.
        """
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "sk = :config",
            "ProjectionExpression": "tenant_id",
            "ExpressionAttributeValues": values(config=keys.TENANT_CONFIG_SK),
        }
        found: list[str] = []
        for page in pages(self._client, "scan", request, "list tenants"):
            found += [str(from_item(i)["tenant_id"]) for i in page if "tenant_id" in i]
            if len(found) >= limit:
                break
        return sorted(found)[:limit]

    def add_account(self, tenant_id: str, account_id: str) -> bool:
        """Make ``account_id`` a member of an existing tenant. False: it already was one."""
        member = self._member_item(tenant_id, account_id)
        try:
            transact_write(
                self._client,
                [
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": self._config_key(tenant_id),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": member,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ],
            )
        except TransactionConditionFailedError as exc:
            if exc.reasons[0] != "None":
                raise StateConflictError(f"tenant {tenant_id} does not exist") from None
            return False
        return True

    def remove_account(self, tenant_id: str, account_id: str) -> bool:
        """Take ``account_id`` out of the tenant: the status API stops showing it to the tenant's users whose
        token lists no accounts of its own (membership decides for them). False: it was not a member."""
        with dynamo_errors("remove tenant account"):
            response = self._client.delete_item(
                TableName=self._table,
                Key=key(pk=keys.tenant_pk(tenant_id), sk=keys.account_member_sk(account_id)),
                ReturnValues="ALL_OLD",
            )
        return "Attributes" in response

    def list_accounts(self, tenant_id: str, limit: int = MAX_MEMBER_ACCOUNTS) -> list[str]:
        """The tenant's member accounts, sorted (a Query of its membership items, keys only)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": values(
                pk=keys.tenant_pk(tenant_id), prefix=keys.ACCOUNT_MEMBER_PREFIX
            ),
            "ProjectionExpression": "sk",
        }
        found: list[str] = []
        for page in pages(self._client, "query", request, "list tenant accounts"):
            found += [keys.account_from_member_sk(str(from_item(i)["sk"])) for i in page]
            if len(found) >= limit:
                break
        return sorted(found)[:limit]

    def is_account_member(self, tenant_id: str, account_id: str) -> bool:
        with dynamo_errors("check account membership"):
            response = self._client.get_item(
                TableName=self._table,
                Key=key(pk=keys.tenant_pk(tenant_id), sk=keys.account_member_sk(account_id)),
                ProjectionExpression="pk",
            )
        return "Item" in response

    def get_global_kill_switch(self) -> GlobalKillSwitch:
        """The global stop; no item means nobody has stopped execution."""
        with dynamo_errors("get global kill switch"):
            response = self._client.get_item(
                TableName=self._table, Key=self._global_key(), ConsistentRead=True
            )
        item = response.get("Item")
        return (
            model_from_item(GlobalKillSwitch, item, STORAGE_ATTRIBUTES)
            if item
            else GlobalKillSwitch(enabled=False)
        )

    def kill_switch_checks(self, tenant_id: str, action_type: str) -> list[TransactItem]:
        """TransactWriteItems ConditionChecks: the global switch is off, and the tenant has a config
        that enables execution and does not disable ``action_type``.

        They commit together with the effect itself, so a switch flipped at any moment before the write
        (retries included) stops it, and an unreadable or missing configuration stops it too (fail
        closed: a ConditionCheck on an absent tenant config fails).
        """
        return [
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": self._global_key(),
                    "ConditionExpression": "attribute_not_exists(pk) OR enabled = :off",
                    "ExpressionAttributeValues": values(off=False),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": self._config_key(tenant_id),
                    "ConditionExpression": (
                        "execution_enabled = :on AND NOT contains(disabled_action_types, :action_type)"
                    ),
                    "ExpressionAttributeValues": values(on=True, action_type=action_type),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        ]

    @staticmethod
    def explain_tenant_check(item: Item | None, action_type: str) -> str:
        """Why the tenant ConditionCheck failed, from the item it returned (for the cancellation message)."""
        if item is None:
            return "The tenant has no execution configuration; failing closed"
        tenant = from_item(item)
        if not tenant.get("execution_enabled", False):
            return "Execution is disabled for this tenant"
        if action_type in {str(t) for t in tenant.get("disabled_action_types", [])}:
            return "This action type is disabled for this tenant"
        return "The tenant's execution configuration does not allow this action"

    def get_kill_switch_state(self, tenant_id: str) -> KillSwitchState:
        """Global and tenant switches in one consistent BatchGetItem; any failure fails closed."""
        request = {
            self._table: {"Keys": [self._global_key(), self._config_key(tenant_id)], "ConsistentRead": True}
        }
        try:
            found = batch_get(self._client, request, "read kill switches")[self._table]
            by_pk = {item["pk"]["S"]: item for item in found}
            global_item = by_pk.get(keys.GLOBAL_PK)
            global_switch = (
                model_from_item(GlobalKillSwitch, global_item, STORAGE_ATTRIBUTES)
                if global_item
                else GlobalKillSwitch(enabled=False)
            )
            tenant_item = by_pk.get(keys.tenant_pk(tenant_id))
            if tenant_item is None:
                return KillSwitchState(global_switch, None, frozenset())
            tenant = from_item(tenant_item)
            return KillSwitchState(
                global_switch,
                bool(tenant.get("execution_enabled", False)),
                frozenset(str(t) for t in tenant.get("disabled_action_types", [])),
            )
        except ExecutionError as exc:
            raise KillSwitchUnavailableError(
                f"kill switch state could not be read ({exc.error_code})"
            ) from exc
