"""Pydantic models of every record the execution layer reads or writes."""

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
