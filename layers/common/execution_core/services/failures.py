"""Turning a caught Step Functions error back into the taxonomy, by error name only."""

import json
from dataclasses import dataclass
from typing import Any

from execution_core.errors import (
    TRANSIENT_PLATFORM_ERRORS,
    Classification,
    ErrorClass,
    ErrorCode,
    ExecutionError,
    IntentExpiredError,
    KillSwitchEnabledError,
    sanitize_message,
)
from execution_core.models.execution import OutcomeStatus
from execution_core.models.ledger import LedgerEventType

_TIMEOUTS = frozenset({"Sandbox.Timedout", "States.Timeout", "States.HeartbeatTimeout"})
_CRASHES = frozenset({"Runtime.ExitError", "Lambda.Unknown"})


def _subclasses(cls: type[ExecutionError]) -> list[type[ExecutionError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_subclasses(sub))
    return found


def taxonomy() -> list[type[ExecutionError]]:
    """Every error class of the taxonomy (each one's name is a Lambda errorType the ASL may match)."""
    return _subclasses(ExecutionError)


def error_type_named(name: str) -> type[ExecutionError] | None:
    """The ExecutionError subclass whose class name is ``name`` (the Lambda errorType), if any."""
    for cls in taxonomy():
        if cls.__name__ == name:
            return cls
    return None


def classify_error_type(name: str) -> Classification:
    """Classify an error name: ours by class, the platform's by its documented names, the rest UNKNOWN."""
    cls = error_type_named(name)
    if cls is not None:
        return Classification(cls.error_class, cls.error_code, cls.retryable)
    if name in _TIMEOUTS:
        return Classification(ErrorClass.TIMEOUT, ErrorCode.TIMEOUT, name in TRANSIENT_PLATFORM_ERRORS)
    if name in _CRASHES:
        return Classification(ErrorClass.UNKNOWN, ErrorCode.UNKNOWN_ERROR, True)
    if name in TRANSIENT_PLATFORM_ERRORS:
        return Classification(ErrorClass.DOWNSTREAM, ErrorCode.DOWNSTREAM_ERROR, True)
    return Classification(ErrorClass.UNKNOWN, ErrorCode.UNKNOWN_ERROR, False)


def cause_message(cause: str | None) -> str:
    """The errorMessage of a Lambda error cause, sanitized; never its stack trace."""
    if not cause:
        return ""
    try:
        parsed: Any = json.loads(cause)
    except ValueError:
        return sanitize_message(cause)
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return sanitize_message(parsed["errorMessage"])
    return ""


def outcome_status_for(error_type: str) -> tuple[OutcomeStatus, LedgerEventType]:
    """With no effect: a kill switch cancels, expiry expires, everything else fails."""
    cls = error_type_named(error_type)
    if cls is not None and issubclass(cls, KillSwitchEnabledError):
        return OutcomeStatus.CANCELLED, LedgerEventType.EXECUTION_CANCELLED
    if cls is not None and issubclass(cls, IntentExpiredError):
        return OutcomeStatus.EXPIRED, LedgerEventType.EXECUTION_EXPIRED
    return OutcomeStatus.FAILED, LedgerEventType.ACTION_FAILED


@dataclass(frozen=True)
class Failure:
    """What went wrong, as the recorders see it: the error name, a safe message, the step it came from."""

    error: str
    message: str
    stage: str

    @classmethod
    def caught(cls, error: str, cause: str | None, stage: str) -> "Failure":
        classification = classify_error_type(error)
        message = cause_message(cause) or f"{classification.error_code.value} during execution"
        return cls(error=error, message=message, stage=stage)

    @property
    def classification(self) -> Classification:
        return classify_error_type(self.error)
