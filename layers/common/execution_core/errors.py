"""The error taxonomy: every failure becomes an (error class, error code, retryable) triple.

Classification is by exception type only, never by message text, so a reworded message cannot change
whether Step Functions retries. Class names are the Lambda ``errorType`` that the state machine's
Retry/Catch blocks match on: renaming one is a contract change.
"""

from enum import StrEnum
from typing import Any, ClassVar, NamedTuple

import pydantic
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

from execution_core.sanitize import sanitize_message

__all__ = [
    "TRANSIENT_PLATFORM_ERRORS",
    "AuthError",
    "Classification",
    "ConfigurationError",
    "ConnectorNotAllowedError",
    "ConnectorNotConfiguredError",
    "CrmExternalIdConflictError",
    "DataStoreError",
    "DataStoreUnavailableError",
    "DownstreamError",
    "DuplicateStartError",
    "EffectNotFoundError",
    "ErrorClass",
    "ErrorCode",
    "EventPublishError",
    "ExecutionAbortedError",
    "ExecutionEndedUnrecordedError",
    "ExecutionError",
    "ExecutionTimedOutError",
    "ExternalWriteInDoubtError",
    "IdempotencyKeyMismatchError",
    "IntentExpiredError",
    "IntentNotFoundError",
    "InvalidInputError",
    "KillSwitchEnabledError",
    "KillSwitchUnavailableError",
    "LeaseNotHeldError",
    "MissingRequiredParameterError",
    "RateLimitError",
    "RegistryVersionConflictError",
    "RegistryVersionNotFoundError",
    "StateConflictError",
    "ToolTimeoutError",
    "TransactionConditionFailedError",
    "UnknownExecutionError",
    "classify",
    "sanitize_message",
]


class ErrorClass(StrEnum):
    VALIDATION = "VALIDATION"
    AUTH = "AUTH"
    RATE_LIMIT = "RATE_LIMIT"
    DOWNSTREAM = "DOWNSTREAM"
    TIMEOUT = "TIMEOUT"
    KILL_SWITCH = "KILL_SWITCH"
    UNKNOWN = "UNKNOWN"


class ErrorCode(StrEnum):
    INTENT_NOT_FOUND = "INTENT_NOT_FOUND"
    INTENT_EXPIRED = "INTENT_EXPIRED"
    KILL_SWITCH_ENABLED = "KILL_SWITCH_ENABLED"
    KILL_SWITCH_UNAVAILABLE = "KILL_SWITCH_UNAVAILABLE"
    MISSING_REQUIRED_PARAMETER = "MISSING_REQUIRED_PARAMETER"
    INVALID_INPUT = "INVALID_INPUT"
    REGISTRY_VERSION_NOT_FOUND = "REGISTRY_VERSION_NOT_FOUND"
    REGISTRY_VERSION_CONFLICT = "REGISTRY_VERSION_CONFLICT"
    DUPLICATE_START = "DUPLICATE_START"
    LEASE_NOT_HELD = "LEASE_NOT_HELD"
    IDEMPOTENCY_KEY_MISMATCH = "IDEMPOTENCY_KEY_MISMATCH"
    EFFECT_NOT_FOUND = "EFFECT_NOT_FOUND"
    EXTERNAL_ID_CONFLICT = "EXTERNAL_ID_CONFLICT"
    EXECUTION_ABORTED = "EXECUTION_ABORTED"
    EXECUTION_TIMED_OUT = "EXECUTION_TIMED_OUT"
    EXECUTION_ENDED_UNRECORDED = "EXECUTION_ENDED_UNRECORDED"
    AUTH_FAILED = "AUTH_FAILED"
    RATE_LIMITED = "RATE_LIMITED"
    DOWNSTREAM_ERROR = "DOWNSTREAM_ERROR"
    TIMEOUT = "TIMEOUT"
    CONFIGURATION_ERROR = "CONFIGURATION_ERROR"
    DATA_STORE_UNAVAILABLE = "DATA_STORE_UNAVAILABLE"
    EVENT_PUBLISH_FAILED = "EVENT_PUBLISH_FAILED"
    DATA_STORE_ERROR = "DATA_STORE_ERROR"
    STATE_CONFLICT = "STATE_CONFLICT"
    CONNECTOR_NOT_CONFIGURED = "CONNECTOR_NOT_CONFIGURED"
    CONNECTOR_NOT_ALLOWED = "CONNECTOR_NOT_ALLOWED"
    EXTERNAL_WRITE_IN_DOUBT = "EXTERNAL_WRITE_IN_DOUBT"
    UNKNOWN_ERROR = "UNKNOWN_ERROR"


class Classification(NamedTuple):
    error_class: ErrorClass
    error_code: ErrorCode
    retryable: bool


class ExecutionError(Exception):
    """Base of every error the execution layer raises on purpose.

    The message is sanitized on construction, so ``str(exc)`` is always safe to record or return.
    """

    error_class: ClassVar[ErrorClass] = ErrorClass.UNKNOWN
    error_code: ClassVar[ErrorCode] = ErrorCode.UNKNOWN_ERROR
    retryable: ClassVar[bool] = False
    default_message: ClassVar[str] = "The execution failed"

    def __init__(self, message: str | None = None) -> None:
        self.message = self._clean(message) or self.default_message
        super().__init__(self.message)

    @staticmethod
    def _clean(message: str | None) -> str:
        return sanitize_message(message)

    @property
    def classification(self) -> Classification:
        return Classification(self.error_class, self.error_code, self.retryable)


# ---------------------------------------------------------------- VALIDATION: the request cannot succeed
class InvalidInputError(ExecutionError):
    error_class = ErrorClass.VALIDATION
    error_code = ErrorCode.INVALID_INPUT
    default_message = "The input is invalid"


class MissingRequiredParameterError(InvalidInputError):
    error_code = ErrorCode.MISSING_REQUIRED_PARAMETER
    default_message = "A required parameter is missing"


class IntentNotFoundError(InvalidInputError):
    """Retryable for a bounded time: the upstream may write the intent just after it approved it."""

    error_code = ErrorCode.INTENT_NOT_FOUND
    retryable = True
    default_message = "The action intent was not found"


class IntentExpiredError(InvalidInputError):
    error_code = ErrorCode.INTENT_EXPIRED
    default_message = "The action intent has expired"


class IdempotencyKeyMismatchError(InvalidInputError):
    """A step payload whose idempotency key does not cover its own tool call: altered or forged."""

    error_code = ErrorCode.IDEMPOTENCY_KEY_MISMATCH
    default_message = "The idempotency key does not match the tool call"


class DuplicateStartError(InvalidInputError):
    """Another live execution holds the intent's lease, or the intent already finished.

    Raised by PrepareExecution so the state machine can end in a Succeed state after two transitions
    (a Catch is the only branch a Task state has); nothing was written.
    """

    error_code = ErrorCode.DUPLICATE_START
    default_message = "Another execution owns this intent, or it already finished"


class RegistryVersionNotFoundError(InvalidInputError):
    error_code = ErrorCode.REGISTRY_VERSION_NOT_FOUND
    default_message = "The pinned registry version does not exist"


class RegistryVersionConflictError(InvalidInputError):
    """A published registry version is immutable; re-publishing it with other content is refused."""

    error_code = ErrorCode.REGISTRY_VERSION_CONFLICT
    default_message = "The registry version is already published with different content"


class ConnectorNotConfiguredError(InvalidInputError):
    """The tenant/account has no usable connector (no config, no secret, or an unreadable secret)."""

    error_code = ErrorCode.CONNECTOR_NOT_CONFIGURED
    default_message = "No connector is configured for this account"


class ConnectorNotAllowedError(InvalidInputError):
    """The connector points somewhere it may not: an origin off the allow-list or another tenant's secret."""

    error_code = ErrorCode.CONNECTOR_NOT_ALLOWED
    default_message = "The connector configuration is not allowed"


# ---------------------------------------------------------------- KILL_SWITCH: stopped by an operator
class KillSwitchEnabledError(ExecutionError):
    error_class = ErrorClass.KILL_SWITCH
    error_code = ErrorCode.KILL_SWITCH_ENABLED
    default_message = "Execution is disabled by a kill switch"


class KillSwitchUnavailableError(ExecutionError):
    """The kill switch state could not be read; the layer fails closed (no effect) and retries later."""

    error_class = ErrorClass.KILL_SWITCH
    error_code = ErrorCode.KILL_SWITCH_UNAVAILABLE
    retryable = True
    default_message = "The kill switch state could not be read"


# ---------------------------------------------------------------- tool and dependency failures
class AuthError(ExecutionError):
    error_class = ErrorClass.AUTH
    error_code = ErrorCode.AUTH_FAILED
    default_message = "Authentication with the downstream system failed"


class RateLimitError(ExecutionError):
    error_class = ErrorClass.RATE_LIMIT
    error_code = ErrorCode.RATE_LIMITED
    retryable = True
    default_message = "The downstream system is rate limiting requests"


class DownstreamError(ExecutionError):
    error_class = ErrorClass.DOWNSTREAM
    error_code = ErrorCode.DOWNSTREAM_ERROR
    retryable = True
    default_message = "The downstream system failed"


class ToolTimeoutError(ExecutionError):
    error_class = ErrorClass.TIMEOUT
    error_code = ErrorCode.TIMEOUT
    retryable = True
    default_message = "The downstream system did not answer in time"


class ExternalWriteInDoubtError(ExecutionError):
    """The external system may or may not have made the write, and nothing has settled which yet.

    Not retryable by Step Functions: the reconciler settles it later with a lookup by idempotency key.
    """

    error_class = ErrorClass.DOWNSTREAM
    error_code = ErrorCode.EXTERNAL_WRITE_IN_DOUBT
    default_message = "An earlier attempt may already have made this external write"


class CrmExternalIdConflictError(ExecutionError):
    """Several CRM records carry this write's external id (HTTP 300): someone else wrote them; a person
    has to decide which one is ours."""

    error_class = ErrorClass.DOWNSTREAM
    error_code = ErrorCode.EXTERNAL_ID_CONFLICT
    default_message = "Several CRM records carry this write's external id"


class EventPublishError(DownstreamError):
    """EventBridge did not accept every event; the recorder is idempotent, so it is retried whole."""

    error_code = ErrorCode.EVENT_PUBLISH_FAILED
    default_message = "Publishing events failed"


class DataStoreUnavailableError(DownstreamError):
    """A transient failure of our own data store (throttling, 5xx, transaction conflict)."""

    error_code = ErrorCode.DATA_STORE_UNAVAILABLE
    default_message = "The data store is temporarily unavailable"


# ---------------------------------------------------------------- UNKNOWN: bugs and misconfiguration
class ConfigurationError(ExecutionError):
    """Raised at cold start; its message lists variable names (built by us, never values), uncut."""

    error_code = ErrorCode.CONFIGURATION_ERROR
    default_message = "The function is misconfigured"

    @staticmethod
    def _clean(message: str | None) -> str:
        return " ".join((message or "").split())


class DataStoreError(ExecutionError):
    """A data store failure that a retry will not fix (bad request, unexpected stored shape)."""

    error_code = ErrorCode.DATA_STORE_ERROR
    default_message = "The data store rejected the request"


class StateConflictError(ExecutionError):
    """A record is in a state the requested transition does not accept."""

    error_code = ErrorCode.STATE_CONFLICT
    default_message = "The record is in a conflicting state"


class LeaseNotHeldError(StateConflictError):
    """This execution does not hold the intent's lease with this idempotency key (lost, or forged)."""

    error_code = ErrorCode.LEASE_NOT_HELD
    default_message = "This execution does not hold the intent's lease"


class EffectNotFoundError(StateConflictError):
    """A payload claims an effect that the effect store does not hold."""

    error_code = ErrorCode.EFFECT_NOT_FOUND
    default_message = "The effect store holds no such effect"


class TransactionConditionFailedError(StateConflictError):
    """A transaction was cancelled by condition checks.

    ``reasons`` has one code per entry ("None" where the entry was fine) and ``items`` the stored item of
    each failed entry that asked for ReturnValuesOnConditionCheckFailure=ALL_OLD (None otherwise).
    """

    default_message = "A transaction condition failed"

    def __init__(
        self, reasons: list[str], items: list[dict[str, Any] | None] | None = None, message: str | None = None
    ) -> None:
        self.reasons = reasons
        self.items = items if items is not None else [None] * len(reasons)
        super().__init__(message or f"Transaction cancelled; reasons: {', '.join(reasons)}")

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


# ---------------------------------------------------------------- executions that ended outside the pipeline
class ExecutionAbortedError(ExecutionError):
    """The execution was stopped (StopExecution) before it recorded an outcome (the finalizer's error)."""

    error_code = ErrorCode.EXECUTION_ABORTED
    default_message = "The execution was stopped before it recorded an outcome"


class ExecutionTimedOutError(ExecutionError):
    """The execution hit the state machine's TimeoutSeconds before it recorded an outcome."""

    error_class = ErrorClass.TIMEOUT
    error_code = ErrorCode.EXECUTION_TIMED_OUT
    default_message = "The execution timed out before it recorded an outcome"


class ExecutionEndedUnrecordedError(ExecutionError):
    """The execution ended (failed, or its recorder never ran) and left its attempt RUNNING."""

    error_code = ErrorCode.EXECUTION_ENDED_UNRECORDED
    default_message = "The execution ended without recording an outcome"


class UnknownExecutionError(ExecutionError):
    default_message = "An unexpected error occurred"


# Errors the platform reports for a Lambda task that may succeed when tried again (exact names: Step
# Functions matches names, never prefixes or Python subclasses). Lambda.Unknown covers out-of-memory and
# other unhandled runtime failures; Runtime.ExitError a process that died; Sandbox.Timedout a function
# timeout; States.Timeout the task's own timeout.
TRANSIENT_PLATFORM_ERRORS: tuple[str, ...] = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Runtime.ExitError",
    "Sandbox.Timedout",
    "States.Timeout",
)

_TIMEOUT_TYPES: tuple[type[BaseException], ...] = (TimeoutError, ConnectTimeoutError, ReadTimeoutError)


def classify(exc: BaseException) -> Classification:
    """Map any exception to the taxonomy by its type; anything unforeseen is UNKNOWN and not retried."""
    if isinstance(exc, ExecutionError):
        return exc.classification
    if isinstance(exc, pydantic.ValidationError):
        return Classification(ErrorClass.VALIDATION, ErrorCode.INVALID_INPUT, False)
    if isinstance(exc, _TIMEOUT_TYPES):
        return Classification(ErrorClass.TIMEOUT, ErrorCode.TIMEOUT, True)
    return Classification(ErrorClass.UNKNOWN, ErrorCode.UNKNOWN_ERROR, False)
