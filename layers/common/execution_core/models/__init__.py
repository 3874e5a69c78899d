"""Pydantic models of every record the execution layer reads or writes.

The package is an index resolved on first access (PEP 562): ``from execution_core.models import ActionIntent``
imports ``execution_core.models.intent`` and no other model module, so a cold start creates only the model
classes its function's code imports (ADR 0014). The layer's own modules import from the defining module.
"""

from typing import TYPE_CHECKING

from execution_core.package_index import first_access_importer, names_to_modules

if TYPE_CHECKING:  # the names, for type checkers; at run time each is imported on first access
    from execution_core.models.adapters import (
        ConnectorConfig,
        ConnectorType,
        ExternalWriteRecord,
        ExternalWriteStatus,
        InternalObject,
        InternalObjectKind,
    )
    from execution_core.models.common import FrozenModel, Identifier, UtcDatetime, format_timestamp, utc_now
    from execution_core.models.execution import (
        ActionOutcome,
        ApiStatus,
        AttemptStatus,
        CompensationStatus,
        ExecutionAttempt,
        ExecutionStatus,
        ExternalObjectRef,
        ExternalSystem,
        OutcomeStatus,
        PipelineStage,
    )
    from execution_core.models.intent import ActionIntent, ActionTarget, ApprovalSource
    from execution_core.models.ledger import LedgerEntry, LedgerEventType
    from execution_core.models.registry import (
        ActionTypeRegistryEntry,
        CompensationStrategy,
        ParameterMapping,
        RiskClass,
        Transform,
    )
    from execution_core.models.signal import (
        ConfidenceSource,
        Severity,
        Signal,
        SignalEvidence,
        SignalStatus,
        SignalSuppression,
        SignalTtl,
        SignalType,
    )
    from execution_core.models.tenant import GlobalKillSwitch, SwitchChange, SwitchScope, TenantConfig

# Where each exported name is defined: importing the package imports none of these modules.
_MODULES = {
    "adapters": (
        "ConnectorConfig",
        "ConnectorType",
        "ExternalWriteRecord",
        "ExternalWriteStatus",
        "InternalObject",
        "InternalObjectKind",
    ),
    "common": ("FrozenModel", "Identifier", "UtcDatetime", "format_timestamp", "utc_now"),
    "execution": (
        "ActionOutcome",
        "ApiStatus",
        "AttemptStatus",
        "CompensationStatus",
        "ExecutionAttempt",
        "ExecutionStatus",
        "ExternalObjectRef",
        "ExternalSystem",
        "OutcomeStatus",
        "PipelineStage",
    ),
    "intent": ("ActionIntent", "ActionTarget", "ApprovalSource"),
    "ledger": ("LedgerEntry", "LedgerEventType"),
    "registry": (
        "ActionTypeRegistryEntry",
        "CompensationStrategy",
        "ParameterMapping",
        "RiskClass",
        "Transform",
    ),
    "signal": (
        "ConfidenceSource",
        "Severity",
        "Signal",
        "SignalEvidence",
        "SignalStatus",
        "SignalSuppression",
        "SignalTtl",
        "SignalType",
    ),
    "tenant": ("GlobalKillSwitch", "SwitchChange", "SwitchScope", "TenantConfig"),
}
_DEFINED_IN = names_to_modules(_MODULES)
__getattr__ = first_access_importer(__name__, _DEFINED_IN)

__all__ = [
    "ActionIntent",
    "ActionOutcome",
    "ActionTarget",
    "ActionTypeRegistryEntry",
    "ApiStatus",
    "ApprovalSource",
    "AttemptStatus",
    "CompensationStatus",
    "CompensationStrategy",
    "ConfidenceSource",
    "ConnectorConfig",
    "ConnectorType",
    "ExecutionAttempt",
    "ExecutionStatus",
    "ExternalObjectRef",
    "ExternalSystem",
    "ExternalWriteRecord",
    "ExternalWriteStatus",
    "FrozenModel",
    "GlobalKillSwitch",
    "Identifier",
    "InternalObject",
    "InternalObjectKind",
    "LedgerEntry",
    "LedgerEventType",
    "OutcomeStatus",
    "ParameterMapping",
    "PipelineStage",
    "RiskClass",
    "Severity",
    "Signal",
    "SignalEvidence",
    "SignalStatus",
    "SignalSuppression",
    "SignalTtl",
    "SignalType",
    "SwitchChange",
    "SwitchScope",
    "TenantConfig",
    "Transform",
    "UtcDatetime",
    "format_timestamp",
    "utc_now",
]
