"""Models reject bad input, keep timestamps in UTC, and speak camelCase where the perception layer does."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from execution_core.errors import ErrorClass, ErrorCode
from execution_core.models import (
    ActionIntent,
    ActionOutcome,
    ActionTypeRegistryEntry,
    ConnectorConfig,
    ExecutionAttempt,
    ExecutionStatus,
    GlobalKillSwitch,
    LedgerEntry,
    Signal,
    TenantConfig,
    format_timestamp,
)
from tests.support import factories
from tests.support.factories import NOW


def test_intent_round_trips_through_json() -> None:
    intent = factories.intent()
    assert ActionIntent.model_validate_json(intent.model_dump_json()) == intent


def test_intent_rejects_unknown_fields() -> None:
    data = factories.intent().model_dump()
    with pytest.raises(pydantic.ValidationError, match=r"Extra inputs"):
        ActionIntent.model_validate(data | {"surprise": 1})


def test_intent_expiry_forms_must_agree() -> None:
    with pytest.raises(pydantic.ValidationError, match="different instants"):
        factories.intent(expires_at=NOW, expires_at_epoch=int(NOW.timestamp()) + 60)


def test_intent_rejects_naive_timestamps() -> None:
    with pytest.raises(pydantic.ValidationError, match="timezone"):
        factories.intent(approval_timestamp=datetime(2025, 1, 1, 12, 0))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tenant_id", "t#ACCOUNT#other"),
        ("account_id", "a/b"),
        ("action_intent_id", ""),
        ("registry_version", 0),
        ("approval_source", "ROBOT"),
        ("auto_executed", "maybe"),
    ],
)
def test_intent_field_validation(field: str, value: Any) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        factories.intent(**{field: value})
    assert info.value.errors()[0]["loc"][0] == field


def test_timestamps_are_normalized_to_utc_and_serialized_with_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    attempt = factories.attempt(started_at=datetime(2025, 3, 1, 14, 0, tzinfo=plus_two))
    assert attempt.started_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert attempt.model_dump(mode="json")["started_at"] == "2025-03-01T12:00:00.000000Z"
    assert format_timestamp(NOW) == "2025-03-01T12:00:00.123456Z"


def test_timestamps_sort_lexicographically_by_time() -> None:
    times = [NOW + timedelta(microseconds=n * 999_999) for n in range(0, 50)]
    assert sorted(format_timestamp(t) for t in reversed(times)) == [format_timestamp(t) for t in times]


def test_models_are_frozen() -> None:
    attempt = factories.attempt()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        attempt.status = "FAILED"  # type: ignore[misc,assignment]


def test_attempt_terminal_flag() -> None:
    assert not factories.attempt().is_terminal
    assert factories.attempt(status="CANCELLED").is_terminal


def test_attempt_rejects_unknown_status() -> None:
    with pytest.raises(pydantic.ValidationError):
        factories.attempt(status="PAUSED")


def test_outcome_matches_design_fields_exactly() -> None:
    """docs/architecture.md §3.8's fields, plus what the outbox needs to rebuild the outcome's signal from it
    alone."""
    assert set(ActionOutcome.model_fields) == {
        "action_intent_id", "status", "external_object_refs", "error_code", "error_class", "error_message",
        "attempt_count", "tool_name", "tool_schema_version", "registry_version", "tool_run_ref",
        "raw_response_artifact_ref", "started_at", "completed_at", "compensation_status", "tenant_id",
        "account_id", "trace_id", "action_type", "original_decision_id",
    }  # fmt: skip


def test_outcome_error_fields_follow_status() -> None:
    with pytest.raises(pydantic.ValidationError, match="carries no error"):
        factories.outcome(error_class=ErrorClass.DOWNSTREAM, error_code=ErrorCode.DOWNSTREAM_ERROR)
    with pytest.raises(pydantic.ValidationError, match="needs error_code"):
        factories.outcome(status="FAILED")
    failed = factories.failed_outcome()
    assert failed.error_class is ErrorClass.DOWNSTREAM


def test_outcome_error_message_is_sanitized() -> None:
    failed = factories.failed_outcome(error_message="boom\nTraceback (most recent call last):\n password=x1")
    assert failed.error_message == "boom [REDACTED]"


def test_outcome_rejects_non_s3_artifact_ref() -> None:
    with pytest.raises(pydantic.ValidationError):
        factories.outcome(raw_response_artifact_ref="https://example.com/x")


def test_outcome_round_trip_and_strict_enums() -> None:
    outcome = factories.failed_outcome()
    assert ActionOutcome.model_validate_json(outcome.model_dump_json()) == outcome
    with pytest.raises(pydantic.ValidationError):
        factories.failed_outcome(error_code="SOMETHING_ELSE")


def test_execution_status_needs_only_id_and_status() -> None:
    status = ExecutionStatus(action_intent_id="ai-1", status="PENDING")
    assert status.model_dump(exclude_none=True) == {"action_intent_id": "ai-1", "status": "PENDING"}
    with pytest.raises(pydantic.ValidationError):
        ExecutionStatus(action_intent_id="ai-1", status="DONE")


def test_ledger_details_are_small_scalars() -> None:
    entry = factories.ledger_entry()
    assert LedgerEntry.model_validate_json(entry.model_dump_json()) == entry
    with pytest.raises(pydantic.ValidationError):
        factories.ledger_entry(details={"nested": {"a": 1}})
    with pytest.raises(pydantic.ValidationError):
        factories.ledger_entry(event_type="SOMETHING")


def test_signal_dumps_camel_case_and_round_trips() -> None:
    signal = factories.signal()
    dumped = signal.model_dump(mode="json")
    assert {"signalId", "signalType", "tenantId", "accountId", "dedupeKey", "windowKey", "detectorVersion",
            "detectorInputVersion", "confidenceSource", "createdAt", "updatedAt"} <= set(dumped)  # fmt: skip
    assert dumped["ttl"] == {"expiresAt": "2025-05-30T12:00:00.123456Z", "ttlDays": 90, "isPermanent": False}
    assert set(dumped["evidence"]) == {"evidenceRefs", "evidenceHash", "evidenceSchemaVersion"}
    assert dumped["suppression"] == {"suppressed": False, "suppressedAt": None, "suppressedBy": None}
    assert "signal_id" not in dumped
    assert Signal.model_validate(dumped) == signal
    assert Signal.model_validate_json(signal.model_dump_json()) == signal


def test_signal_accepts_python_names_too() -> None:
    signal = factories.signal()
    assert Signal.model_validate(signal.model_dump(by_alias=False)) == signal


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("confidence", 1.5),
        ("confidence", float("nan")),
        ("confidence_source", "guessed"),
        ("severity", "LOW"),
        ("signal_type", "ACCOUNT_CHANGED"),
        ("ttl", {"is_permanent": True, "expires_at": NOW}),
        ("ttl", {"is_permanent": False}),
        ("evidence", {"evidence_refs": [], "evidence_hash": "not-a-hash"}),
    ],
)
def test_signal_validation(field: str, value: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        factories.signal(**{field: value})


def test_registry_entry_content_comparison_ignores_publish_time() -> None:
    entry = factories.registry_entry()
    later = entry.model_copy(update={"published_at": NOW + timedelta(days=1)})
    changed = factories.registry_entry(action_type=entry.action_type, tool_schema_version="v2")
    assert entry.same_content(later)
    assert not entry.same_content(changed)


def test_registry_entry_validation() -> None:
    with pytest.raises(pydantic.ValidationError):
        factories.registry_entry(
            parameter_mapping={"title": {"tool_param": "subject", "transform": "reverse"}}
        )
    with pytest.raises(pydantic.ValidationError):
        factories.registry_entry(registry_version=0)
    entry = factories.registry_entry()
    assert ActionTypeRegistryEntry.model_validate_json(entry.model_dump_json()) == entry


def test_connector_config_keeps_only_https_origin_and_secret_reference() -> None:
    base: dict[str, Any] = {
        "tenant_id": "t1",
        "account_id": "a1",
        "connector_type": "CRM",
        "secret_id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/t1-AbCdEf",
    }
    config = ConnectorConfig.model_validate(base | {"instance_url": "https://acme.my.salesforce.com/"})
    assert config.instance_url == "https://acme.my.salesforce.com"
    for bad in ["http://acme.my.salesforce.com", "https://user:pw@acme.com", "https://acme.com/path?x=1"]:
        with pytest.raises(pydantic.ValidationError):
            ConnectorConfig.model_validate(base | {"instance_url": bad})
    with pytest.raises(pydantic.ValidationError):
        ConnectorConfig.model_validate(base | {"instance_url": "https://a.com", "secret_id": "has space"})


def test_tenant_config_and_global_switch_defaults() -> None:
    config = TenantConfig(tenant_id="t1", execution_enabled=True)
    assert config.disabled_action_types == []
    assert config.account_ids == []
    assert GlobalKillSwitch(enabled=True, reason="incident\nsecret=abc").reason == "incident [REDACTED]"


def test_attempt_round_trip_with_refs() -> None:
    attempt = factories.attempt(
        status="SUCCEEDED", completed_at=NOW, external_object_refs=[factories.ref(object_url="https://x/y")]
    )
    assert ExecutionAttempt.model_validate_json(attempt.model_dump_json()) == attempt
