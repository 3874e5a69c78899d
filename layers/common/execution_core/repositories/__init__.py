"""One repository per table. These modules are the only code that knows key formats.

The package is an index resolved on first access (PEP 562), as ``execution_core.models`` is: importing a
repository module imports no other (ADR 0014). The layer's own modules import from the defining module.
"""

from typing import TYPE_CHECKING

from execution_core.package_index import first_access_importer, names_to_modules

if TYPE_CHECKING:  # the names, for type checkers; at run time each is imported on first access
    from execution_core.repositories.attempts import ExecutionAttemptRepository, LeaseOutcome, LeaseResult
    from execution_core.repositories.base import Page
    from execution_core.repositories.connector_config import ConnectorConfigRepository
    from execution_core.repositories.dynamo import TransactItem, transact_write
    from execution_core.repositories.external_writes import ExternalWriteRepository
    from execution_core.repositories.intents import ActionIntentRepository
    from execution_core.repositories.internal_objects import InternalObjectRepository
    from execution_core.repositories.ledger import LedgerRepository
    from execution_core.repositories.outcomes import ExecutionOutcomeRepository
    from execution_core.repositories.registry import ActionTypeRegistryRepository, PublishResult
    from execution_core.repositories.signals import SignalRepository
    from execution_core.repositories.status_read import ExecutionRecords, StatusReadRepository
    from execution_core.repositories.tenants import KillSwitchState, TenantRepository

# Where each exported name is defined: importing the package imports none of these modules.
_MODULES = {
    "attempts": ("ExecutionAttemptRepository", "LeaseOutcome", "LeaseResult"),
    "base": ("Page",),
    "connector_config": ("ConnectorConfigRepository",),
    "dynamo": ("TransactItem", "transact_write"),
    "external_writes": ("ExternalWriteRepository",),
    "intents": ("ActionIntentRepository",),
    "internal_objects": ("InternalObjectRepository",),
    "ledger": ("LedgerRepository",),
    "outcomes": ("ExecutionOutcomeRepository",),
    "registry": ("ActionTypeRegistryRepository", "PublishResult"),
    "signals": ("SignalRepository",),
    "status_read": ("ExecutionRecords", "StatusReadRepository"),
    "tenants": ("KillSwitchState", "TenantRepository"),
}
_DEFINED_IN = names_to_modules(_MODULES)
__getattr__ = first_access_importer(__name__, _DEFINED_IN)

__all__ = [
    "ActionIntentRepository",
    "ActionTypeRegistryRepository",
    "ConnectorConfigRepository",
    "ExecutionAttemptRepository",
    "ExecutionOutcomeRepository",
    "ExecutionRecords",
    "ExternalWriteRepository",
    "InternalObjectRepository",
    "KillSwitchState",
    "LeaseOutcome",
    "LeaseResult",
    "LedgerRepository",
    "Page",
    "PublishResult",
    "SignalRepository",
    "StatusReadRepository",
    "TenantRepository",
    "TransactItem",
    "transact_write",
]
