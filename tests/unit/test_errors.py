"""The taxonomy classifies by exception type and never lets unsafe text through."""

import string
import time

import pydantic
import pytest
from botocore.exceptions import ReadTimeoutError
from hypothesis import given
from hypothesis import strategies as st

from execution_core import errors
from execution_core.errors import (
    AuthError,
    ConfigurationError,
    DataStoreUnavailableError,
    DownstreamError,
    ErrorClass,
    ErrorCode,
    ExecutionError,
    IntentExpiredError,
    IntentNotFoundError,
    InvalidInputError,
    KillSwitchEnabledError,
    KillSwitchUnavailableError,
    MissingRequiredParameterError,
    RateLimitError,
    ToolTimeoutError,
    TransactionConditionFailedError,
    UnknownExecutionError,
    classify,
    sanitize_message,
)
from execution_core.sanitize import MAX_MESSAGE_LENGTH

EXPECTED = [
    (InvalidInputError, ErrorClass.VALIDATION, ErrorCode.INVALID_INPUT, False),
    (MissingRequiredParameterError, ErrorClass.VALIDATION, ErrorCode.MISSING_REQUIRED_PARAMETER, False),
    # Retryable for a bounded time: an approval may arrive just before its intent is stored.
    (IntentNotFoundError, ErrorClass.VALIDATION, ErrorCode.INTENT_NOT_FOUND, True),
    (IntentExpiredError, ErrorClass.VALIDATION, ErrorCode.INTENT_EXPIRED, False),
    (KillSwitchEnabledError, ErrorClass.KILL_SWITCH, ErrorCode.KILL_SWITCH_ENABLED, False),
    # Fail closed (no effect) and look again later.
    (KillSwitchUnavailableError, ErrorClass.KILL_SWITCH, ErrorCode.KILL_SWITCH_UNAVAILABLE, True),
    (AuthError, ErrorClass.AUTH, ErrorCode.AUTH_FAILED, False),
    (RateLimitError, ErrorClass.RATE_LIMIT, ErrorCode.RATE_LIMITED, True),
    (DownstreamError, ErrorClass.DOWNSTREAM, ErrorCode.DOWNSTREAM_ERROR, True),
    (ToolTimeoutError, ErrorClass.TIMEOUT, ErrorCode.TIMEOUT, True),
    (DataStoreUnavailableError, ErrorClass.DOWNSTREAM, ErrorCode.DATA_STORE_UNAVAILABLE, True),
    (ConfigurationError, ErrorClass.UNKNOWN, ErrorCode.CONFIGURATION_ERROR, False),
    (UnknownExecutionError, ErrorClass.UNKNOWN, ErrorCode.UNKNOWN_ERROR, False),
]


@pytest.mark.parametrize(("exc_type", "error_class", "error_code", "retryable"), EXPECTED)
def test_each_error_type_has_its_classification(
    exc_type: type[ExecutionError], error_class: ErrorClass, error_code: ErrorCode, retryable: bool
) -> None:
    assert classify(exc_type("anything")) == (error_class, error_code, retryable)


@pytest.mark.parametrize(
    "message",
    [
        "rate limit exceeded",
        "timeout",
        "Unauthorized",
        "kill switch",
        "throttled 429",
        "503 Service Unavailable",
    ],
)
def test_classification_ignores_message_text(message: str) -> None:
    # A message that *sounds* transient must not make an unknown error retryable.
    assert classify(RuntimeError(message)) == (ErrorClass.UNKNOWN, ErrorCode.UNKNOWN_ERROR, False)
    assert classify(InvalidInputError(message)).error_class is ErrorClass.VALIDATION


def test_foreign_exception_types_are_mapped_by_type() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        pydantic.TypeAdapter(int).validate_python("x")
    assert classify(info.value) == (ErrorClass.VALIDATION, ErrorCode.INVALID_INPUT, False)
    assert classify(TimeoutError()) == (ErrorClass.TIMEOUT, ErrorCode.TIMEOUT, True)
    assert classify(ReadTimeoutError(endpoint_url="https://x")).retryable is True
    assert classify(KeyError("k")).error_class is ErrorClass.UNKNOWN


def test_error_type_names_are_stable_step_functions_contract() -> None:
    # Retry/Catch in the ASL match these names; renaming one silently breaks retries.
    names = {cls.__name__ for cls, *_ in EXPECTED}
    assert names <= set(errors.__all__)
    assert {
        "RateLimitError",
        "DownstreamError",
        "ToolTimeoutError",
        "DataStoreUnavailableError",
        "IntentNotFoundError",
        "KillSwitchUnavailableError",
    } == {cls.__name__ for cls, *_, retryable in EXPECTED if retryable}


def test_messages_are_sanitized_on_construction() -> None:
    exc = DownstreamError('CRM said: Authorization: Bearer abc.def.ghi\n  File "/var/task/app.py", line 3')
    assert "abc.def.ghi" not in str(exc)
    assert "\n" not in str(exc)
    assert "/var/task" not in str(exc)
    assert str(exc) == exc.message


def test_empty_message_falls_back_to_default() -> None:
    assert str(IntentNotFoundError()) == "The action intent was not found"
    assert str(RateLimitError("   \n ")) == RateLimitError.default_message


def test_transaction_failure_reports_which_entries_failed() -> None:
    exc = TransactionConditionFailedError(
        ["None", "ConditionalCheckFailed", "None", "ConditionalCheckFailed"]
    )
    assert [i for i in range(5) if exc.failed(i)] == [1, 3]
    assert exc.items == [None] * 4
    assert classify(exc).retryable is False


TRACEBACK = """Traceback (most recent call last):
  File "/var/task/functions/tool_invoker/app.py", line 42, in handler
    result = adapter.call(payload)
  File "/opt/python/execution_core/adapters/crm.py", line 88, in call
    raise CrmError(body)
CrmError: upstream refused the request"""


def test_sanitize_drops_stack_trace_and_paths() -> None:
    out = sanitize_message(TRACEBACK)
    assert out == "result = adapter.call(payload) raise CrmError(body) CrmError: upstream refused the request"
    assert "Traceback" not in out
    assert "/var/task" not in out


def test_sanitize_replaces_remaining_paths() -> None:
    assert sanitize_message("cannot open /etc/secrets/crm.json now") == "cannot open [path] now"
    assert sanitize_message(r"failed at C:\Users\bob\key.pem") == "failed at [path]"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("auth failed: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJhbGci"),
        ("header Authorization: bearer Bearer abc123", "abc123"),
        ("login failed password=hunter2 user=bob", "hunter2"),
        ('config {"client_secret": "s3cr3t-value"}', "s3cr3t-value"),
        ("api_key: AbCdEf123456", "AbCdEf123456"),
        ("token='tok_live_123'", "tok_live_123"),
        ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
        ("sha " + "a1b2c3d4" * 8, "a1b2c3d4a1b2c3d4"),
        ("blob dGhpcyBpcyBhIHZlcnkgc2VjcmV0IGtleSBvZiAxMjM0NTY3ODk=", "dGhpcyBpcyBh"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
    ],
)
def test_sanitize_redacts_secret_looking_tokens(text: str, leaked: str) -> None:
    out = sanitize_message(text)
    assert leaked not in out
    assert "[REDACTED]" in out


def test_sanitize_keeps_long_plain_identifiers() -> None:
    assert sanitize_message("ProvisionedThroughputExceededException on write") == (
        "ProvisionedThroughputExceededException on write"
    )


def test_sanitize_caps_length() -> None:
    out = sanitize_message("word " * 500)
    assert len(out) == MAX_MESSAGE_LENGTH
    assert out.endswith("...")


TOKEN_ALPHABET = string.ascii_letters + string.digits + "-._~+/"


@given(
    prefix=st.text(max_size=400),
    token=st.text(alphabet=TOKEN_ALPHABET, min_size=6, max_size=80),
    suffix=st.text(max_size=400),
)
def test_sanitize_property_single_line_bounded_no_bearer_token(prefix: str, token: str, suffix: str) -> None:
    secret = f"Bearer {token}"
    out = sanitize_message(prefix + secret + suffix)
    assert len(out) <= MAX_MESSAGE_LENGTH
    assert out == out.strip()
    assert len(out.splitlines()) <= 1
    assert secret not in out
    if token not in prefix + suffix:
        assert token not in out


@given(st.text(max_size=2000))
def test_sanitize_is_idempotent_and_single_line(text: str) -> None:
    once = sanitize_message(text)
    assert len(once.splitlines()) <= 1
    assert len(once) <= MAX_MESSAGE_LENGTH
    assert sanitize_message(once) == once


@pytest.mark.parametrize(
    "text",
    ["a" * 20_000, "a1" * 10_000, "eyJ" * 6_000, "x=" + '"' * 20_000, "/a" * 10_000, "password" * 2_500],
)
def test_sanitize_stays_linear_on_adversarial_input(text: str) -> None:
    # Quadratic backtracking once took ~15 s per call on inputs like these; the bound is generous.
    started = time.perf_counter()
    out = sanitize_message(text)
    assert time.perf_counter() - started < 1.0
    assert len(out) <= MAX_MESSAGE_LENGTH
