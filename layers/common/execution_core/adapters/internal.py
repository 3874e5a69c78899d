"""The internal adapter (PerformAction for ``internal.*``): notes and tasks in our own table.

The object is created in the same transaction that re-authorizes the attempt (kill switches, lease,
idempotency key, expiry), so a stop at any moment before the write means no write. Its id derives from the
idempotency key: a retry finds the original and replays it instead of writing again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from execution_core.contracts import EffectResult, PreparedExecution, parse_payload
from execution_core.errors import InvalidInputError, StateConflictError
from execution_core.models.adapters import INTERNAL_TOOL_KINDS, InternalObject, InternalObjectKind
from execution_core.models.common import FrozenModel, ShortText, utc_now
from execution_core.models.execution import ExternalObjectRef, ExternalSystem
from execution_core.repositories.internal_objects import InternalObjectRepository
from execution_core.services.artifacts import ArtifactStore
from execution_core.services.authorization import EffectAuthorization
from execution_core.services.deterministic_ids import internal_object_id
from execution_core.tracing import subsegment


class InternalToolParameters(FrozenModel):
    title: ShortText
    body: Annotated[str, Field(max_length=10_000)] | None = None
    due_date: date | None = None


@dataclass(frozen=True)
class InternalAdapter:
    objects: InternalObjectRepository
    authorization: EffectAuthorization
    artifacts: ArtifactStore
    clock: Callable[[], datetime] = utc_now

    def act(self, prepared: PreparedExecution) -> EffectResult:
        annotations = {"tenant_id": prepared.tenant_id, "action_type": prepared.action_type}
        with subsegment("internal_adapter.act", **annotations):
            return self._act(prepared)

    def _act(self, prepared: PreparedExecution) -> EffectResult:
        prepared.require_consistent_key()
        kind = INTERNAL_TOOL_KINDS.get(prepared.tool.tool_name)
        if kind is None:
            raise InvalidInputError(f"the internal adapter has no tool {prepared.tool.tool_name}")
        parameters = parse_payload(InternalToolParameters, prepared.tool.parameters)
        if kind is InternalObjectKind.NOTE and parameters.due_date is not None:
            raise InvalidInputError("a note has no due date")
        candidate = InternalObject(
            tenant_id=prepared.tenant_id,
            account_id=prepared.account_id,
            kind=kind,
            object_id=internal_object_id(kind.value, prepared.idempotency_key),
            title=parameters.title,
            body=parameters.body,
            due_date=parameters.due_date,
            idempotency_key=prepared.idempotency_key,
            action_intent_id=prepared.action_intent_id,
            raw_response_artifact_ref=self.artifacts.ref_for(
                prepared.tenant_id, prepared.account_id, prepared.action_intent_id, prepared.attempt_count
            ),
            created_at=self.clock(),
        )
        existing = self.authorization.commit(prepared, self.objects.create_item(candidate))
        stored = candidate if existing is None else self.objects.parse_item(existing)
        if stored.idempotency_key != prepared.idempotency_key or stored.raw_response_artifact_ref is None:
            raise StateConflictError("The stored object belongs to another idempotency key")
        # The artifact is derived from the stored object, so a replay (re)writes the same bytes, once.
        self.artifacts.store_once(
            stored.raw_response_artifact_ref, {"object": stored.model_dump(mode="json")}
        )
        ref = ExternalObjectRef(
            system=ExternalSystem.INTERNAL, object_type=kind.value, object_id=stored.object_id
        )
        return EffectResult(
            external_object_refs=[ref],
            raw_response_artifact_ref=stored.raw_response_artifact_ref,
            tool_run_ref=stored.object_id,
            replayed=existing is not None,
        )
