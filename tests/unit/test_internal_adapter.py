"""The internal adapter's decisions (adapters/internal.py) against in-memory fakes of its object
repository, the re-authorization and the artifact store: one write per idempotency key, a replay returns
the original, and a payload that cannot be right is refused before anything is committed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from execution_core.adapters.internal import InternalAdapter
from execution_core.errors import IdempotencyKeyMismatchError, InvalidInputError, StateConflictError
from execution_core.models.adapters import InternalObject
from execution_core.repositories.internal_objects import InternalObjectRepository
from execution_core.services.artifacts import ArtifactStore
from execution_core.services.authorization import EffectAuthorization
from execution_core.services.deterministic_ids import internal_object_id
from tests.support import factories
from tests.support.factories import NOW


class FakeObjects:
    """The object's transaction entry is the object itself; a stored item is {"object": InternalObject}."""

    def create_item(self, candidate: InternalObject) -> dict[str, Any]:
        return {"put": candidate}

    def parse_item(self, item: dict[str, Any]) -> InternalObject:
        return cast(InternalObject, item["object"])


@dataclass
class FakeAuthorization:
    """commit: None (written) or the stored item the effect's condition found (replay)."""

    existing: dict[str, Any] | None = None
    committed: list[Any] = field(default_factory=list)

    def commit(self, prepared: Any, effect_write: Any) -> dict[str, Any] | None:
        self.committed.append(effect_write)
        return self.existing


@dataclass
class FakeArtifacts:
    stored: list[tuple[str, Any]] = field(default_factory=list)

    def ref_for(self, tenant_id: str, account_id: str, action_intent_id: str, attempt_count: int) -> str:
        return f"s3://artifacts/{tenant_id}/{account_id}/{action_intent_id}/{attempt_count}.json"

    def store_once(self, ref: str, body: Any) -> None:
        self.stored.append((ref, body))


def _adapter(authorization: FakeAuthorization, artifacts: FakeArtifacts) -> InternalAdapter:
    return InternalAdapter(
        objects=cast(InternalObjectRepository, FakeObjects()),
        authorization=cast(EffectAuthorization, authorization),
        artifacts=cast(ArtifactStore, artifacts),
        clock=lambda: NOW,
    )


def test_a_first_write_creates_the_object_under_an_id_derived_from_the_key() -> None:
    prepared = factories.prepared(parameters={"title": "Call back", "due_date": "2025-03-08"})
    authorization, artifacts = FakeAuthorization(), FakeArtifacts()

    result = _adapter(authorization, artifacts).act(prepared)

    [write] = authorization.committed
    created: InternalObject = write["put"]
    assert created.object_id == internal_object_id("TASK", prepared.idempotency_key)
    assert (created.title, str(created.due_date), created.created_at) == ("Call back", "2025-03-08", NOW)
    assert result.replayed is False
    assert [(r.system.value, r.object_type, r.object_id) for r in result.external_object_refs] == [
        ("INTERNAL", "TASK", created.object_id)
    ]
    assert artifacts.stored == [
        (created.raw_response_artifact_ref, {"object": created.model_dump(mode="json")})
    ]


def test_a_retry_replays_the_stored_object_and_its_artifact_not_the_new_candidate() -> None:
    prepared = factories.prepared(parameters={"title": "Call back"})
    original = _adapter(FakeAuthorization(), FakeArtifacts()).act(prepared)
    stored = InternalObject.model_validate(
        {
            "tenant_id": prepared.tenant_id,
            "account_id": prepared.account_id,
            "kind": "TASK",
            "object_id": original.tool_run_ref,
            "title": "Call back",
            "idempotency_key": prepared.idempotency_key,
            "action_intent_id": prepared.action_intent_id,
            "raw_response_artifact_ref": original.raw_response_artifact_ref,
            "created_at": NOW.replace(year=2024),  # written by the first attempt, long ago
        }
    )
    artifacts = FakeArtifacts()

    result = _adapter(FakeAuthorization(existing={"object": stored}), artifacts).act(prepared)

    assert result.replayed is True
    assert (result.tool_run_ref, result.raw_response_artifact_ref) == (
        stored.object_id,
        original.raw_response_artifact_ref,
    )
    assert artifacts.stored == [
        (stored.raw_response_artifact_ref, {"object": stored.model_dump(mode="json")})
    ]


def test_a_stored_object_of_another_key_is_a_conflict_and_no_artifact_is_written() -> None:
    prepared = factories.prepared()
    other = factories.prepared(parameters={"title": "Something else"})
    foreign = InternalObject.model_validate(
        {
            "tenant_id": prepared.tenant_id,
            "account_id": prepared.account_id,
            "kind": "TASK",
            "object_id": "obj-1",
            "title": "Something else",
            "idempotency_key": other.idempotency_key,
            "action_intent_id": prepared.action_intent_id,
            "raw_response_artifact_ref": "s3://artifacts/x.json",
            "created_at": NOW,
        }
    )
    artifacts = FakeArtifacts()
    with pytest.raises(StateConflictError, match="another idempotency key"):
        _adapter(FakeAuthorization(existing={"object": foreign}), artifacts).act(prepared)
    assert artifacts.stored == []


@pytest.mark.parametrize(
    ("prepared", "error"),
    [
        (
            factories.prepared("internal.create_note", parameters={"title": "x", "due_date": "2025-03-08"}),
            InvalidInputError,
        ),
        (factories.prepared("internal.create_invoice", parameters={"title": "x"}), InvalidInputError),
        (factories.prepared(parameters={"title": ""}), InvalidInputError),
        (factories.prepared(parameters={"title": "x", "extra": 1}), InvalidInputError),
    ],
    ids=["note-with-due-date", "unknown-tool", "empty-title", "unknown-parameter"],
)
def test_a_payload_that_cannot_be_right_is_refused_before_any_commit(
    prepared: Any, error: type[Exception]
) -> None:
    authorization, artifacts = FakeAuthorization(), FakeArtifacts()
    with pytest.raises(error):
        _adapter(authorization, artifacts).act(prepared)
    assert (authorization.committed, artifacts.stored) == ([], [])


def test_parameters_altered_after_prepare_are_refused_by_their_key() -> None:
    prepared = factories.prepared(parameters={"title": "Call back"})
    altered = prepared.model_copy(
        update={"tool": prepared.tool.model_copy(update={"parameters": {"title": "Pay"}})}
    )
    authorization = FakeAuthorization()
    with pytest.raises(IdempotencyKeyMismatchError):
        _adapter(authorization, FakeArtifacts()).act(altered)
    assert authorization.committed == []
