"""Every key format of every table. Nothing outside this package builds or parses a key.

Components are checked for the separator so that an id like ``a#ACCOUNT#b`` cannot address another
tenant's partition.
"""

from typing import TYPE_CHECKING

from execution_core.errors import InvalidInputError

if TYPE_CHECKING:  # annotations only: importing the key formats creates no model class
    from execution_core.models.adapters import InternalObjectKind
    from execution_core.models.ledger import LedgerEventType

SEPARATOR = "#"
REGISTRY_VERSION_WIDTH = 10  # zero padded so versions sort numerically and the latest sorts last

GLOBAL_PK = "GLOBAL"
KILL_SWITCH_SK = "KILL_SWITCH"
TENANT_CONFIG_SK = "CONFIG"
ACCOUNT_MEMBER_PREFIX = "ACCOUNT#"
INTENT_SK_PREFIX = "ACTION_INTENT#"
EXECUTION_SK_PREFIX = "EXECUTION#"
OUTCOME_SK_PREFIX = "OUTCOME#"
REGISTRY_VERSION_PREFIX = "REGISTRY_VERSION#"


def _part(value: str, name: str) -> str:
    if not value or SEPARATOR in value:
        raise InvalidInputError(f"{name} must be non-empty and must not contain '{SEPARATOR}'")
    return value


def account_pk(tenant_id: str, account_id: str) -> str:
    return f"TENANT#{_part(tenant_id, 'tenant_id')}#ACCOUNT#{_part(account_id, 'account_id')}"


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{_part(tenant_id, 'tenant_id')}"


def intent_sk(action_intent_id: str) -> str:
    return INTENT_SK_PREFIX + _part(action_intent_id, "action_intent_id")


def execution_sk(action_intent_id: str) -> str:
    return EXECUTION_SK_PREFIX + _part(action_intent_id, "action_intent_id")


def outcome_sk(action_intent_id: str) -> str:
    return OUTCOME_SK_PREFIX + _part(action_intent_id, "action_intent_id")


def started_sk(started_at_iso: str, action_intent_id: str) -> str:
    """AccountStartedIndex sort key: start time first (fixed-width ISO), intent id to break ties."""
    return f"{started_at_iso}#{_part(action_intent_id, 'action_intent_id')}"


def account_status_pk(tenant_id: str, account_id: str, status: str) -> str:
    """AccountStatusIndex partition key: an account's attempts with one status (the list's status filter)."""
    return status_pk_for(account_pk(tenant_id, account_id), status)


def status_pk_for(account_pk_value: str, status: str) -> str:
    """The same key from a stored attempt's own ``pk`` (the backfill of attempts written before it)."""
    return f"{account_pk_value}#STATUS#{_part(status, 'status')}"


def running_sk(started_sk_value: str, tenant_id: str, account_id: str) -> str:
    """RunningIndex sort key: when the sweeper should look next (the start time, until it defers the
    attempt), then whose attempt it is (unique). Oldest first is the sweeper's work order."""
    return f"{started_sk_value}#{_part(tenant_id, 'tenant_id')}#{_part(account_id, 'account_id')}"


def registry_pk(action_type: str) -> str:
    return f"ACTION_TYPE#{_part(action_type, 'action_type')}"


def registry_sk(version: int) -> str:
    if not 1 <= version < 10**REGISTRY_VERSION_WIDTH:
        raise InvalidInputError("registry_version is out of range")
    return f"{REGISTRY_VERSION_PREFIX}{version:0{REGISTRY_VERSION_WIDTH}d}"


# The ledger partition of approvals no stored intent vouches for (the tenant they name is only a claim).
# Tenant partitions are all TENANT#<id>, so no tenant's query or index ever reads this one.
UNATTRIBUTED_PK = "UNATTRIBUTED"


# The ledger partition of operators' kill-switch changes: one trail for every scope, outside every tenant.
OPERATOR_AUDIT_PK = "OPERATOR_AUDIT"
SWITCH_CHANGE_PREFIX = "SWITCH_CHANGE#"


def switch_change_sk(changed_at_iso: str, change_id: str) -> str:
    """Sorts by time, so the newest changes are one Query away."""
    return f"{SWITCH_CHANGE_PREFIX}{changed_at_iso}#{_part(change_id, 'change_id')}"


def ledger_sk(action_intent_id: str, event_type: "LedgerEventType", execution_name: str | None = None) -> str:
    """Deterministic: one ledger entry per intent and event type, so a retried write is a no-op.

    Event types that are about one execution rather than the intent (an approval that ran nothing) are
    keyed by the execution too, so they never block a later approval of the same intent.
    """
    sk = ledger_intent_prefix(action_intent_id) + event_type.value
    if event_type.per_execution:
        if execution_name is None:
            raise InvalidInputError(f"a {event_type.value} ledger entry names its execution")
        sk += f"#EXECUTION#{_part(execution_name, 'execution_name')}"
    return sk


def ledger_intent_prefix(action_intent_id: str) -> str:
    """Every ledger entry of one intent starts with this (a Query by prefix lists its audit trail)."""
    return f"INTENT#{_part(action_intent_id, 'action_intent_id')}#EVENT#"


def occurred_sk(occurred_at_iso: str, event_type: "LedgerEventType", action_intent_id: str) -> str:
    return f"{occurred_at_iso}#{event_type.value}#{_part(action_intent_id, 'action_intent_id')}"


def account_member_sk(account_id: str) -> str:
    return ACCOUNT_MEMBER_PREFIX + _part(account_id, "account_id")


def account_from_member_sk(sk: str) -> str:
    return sk.removeprefix(ACCOUNT_MEMBER_PREFIX)


def internal_object_sk(kind: "InternalObjectKind", object_id: str) -> str:
    return f"{kind.value}#{_part(object_id, 'object_id')}"


def internal_object_prefix(kind: "InternalObjectKind") -> str:
    return f"{kind.value}#"


def connector_sk(connector_type: str) -> str:
    return f"CONNECTOR#{_part(connector_type, 'connector_type')}"


def signal_tenant_account(tenant_id: str, account_id: str) -> str:
    """Partition key of the signals' AccountTimeIndex: tenant-scoped, never shared across tenants."""
    return f"{_part(tenant_id, 'tenant_id')}#{_part(account_id, 'account_id')}"
