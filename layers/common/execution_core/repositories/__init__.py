"""One repository per table. These modules are the only code that knows key formats."""

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
