"""Turning a caught Step Functions error back into the taxonomy, by error type name only."""

import json
from typing import Any

from execution_core.errors import (
    Classification,
    ErrorClass,
    ErrorCode,
    ExecutionError,
    IntentExpiredError,
    KillSwitchEnabledError,
    ToolTimeoutError,
    UnknownExecutionError,
    sanitize_message,
)
from execution_core.models.execution import OutcomeStatus
from execution_core.models.ledger import LedgerEventType

# Errors raised by the platform rather than by our code (Lambda runtime, Step Functions).
_PLATFORM_ERRORS: dict[str, Classification] = {
    "Sandbox.Timedout": Classification(ErrorClass.TIMEOUT, ErrorCode.TIMEOUT, True),
    "States.Timeout": Classification(ErrorClass.TIMEOUT, ErrorCode.TIMEOUT, True),
    "States.HeartbeatTimeout": Classification(ErrorClass.TIMEOUT, ErrorCode.TIMEOUT, True),
}
_PLATFORM_PREFIXES: dict[str, Classification] = {
    "Lambda.": Classification(ErrorClass.DOWNSTREAM, ErrorCode.DOWNSTREAM_ERROR, True),
}


def _subclasses(cls: type[ExecutionError]) -> list[type[ExecutionError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_subclasses(sub))
    return found


def error_type_named(name: str) -> type[ExecutionError] | None:
    """The ExecutionError subclass whose class name is ``name`` (the Lambda errorType), if any."""
    for cls in _subclasses(ExecutionError):
        if cls.__name__ == name:
            return cls
    return None


def classify_error_type(name: str) -> Classification:
    cls = error_type_named(name)
    if cls is not None:
        return Classification(cls.error_class, cls.error_code, cls.retryable)
    if name in _PLATFORM_ERRORS:
        return _PLATFORM_ERRORS[name]
    for prefix, classification in _PLATFORM_PREFIXES.items():
        if name.startswith(prefix):
            return classification
    return Classification(ErrorClass.UNKNOWN, ErrorCode.UNKNOWN_ERROR, False)


def raise_as_error_type(name: str, message: str) -> None:
    """Re-raise an adapter's error under the same taxonomy class, so Step Functions retries it alike."""
    cls = error_type_named(name)
    if cls is not None:
        raise cls(message)
    if name in _PLATFORM_ERRORS:
        raise ToolTimeoutError(message)
    raise UnknownExecutionError(message)


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
    """A kill switch cancels, expiry expires, everything else fails."""
    cls = error_type_named(error_type)
    if cls is not None and issubclass(cls, KillSwitchEnabledError):
        return OutcomeStatus.CANCELLED, LedgerEventType.EXECUTION_CANCELLED
    if cls is not None and issubclass(cls, IntentExpiredError):
        return OutcomeStatus.EXPIRED, LedgerEventType.EXECUTION_EXPIRED
    return OutcomeStatus.FAILED, LedgerEventType.ACTION_FAILED
