"""The internal adapter: notes and tasks in our own table, created at most once per idempotency key."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from execution_core.contracts import AdapterRequest, AdapterResponse, parse_payload
from execution_core.errors import InvalidInputError
from execution_core.models.adapters import InternalObject, InternalObjectKind
from execution_core.models.common import FrozenModel, ShortText, utc_now
from execution_core.models.execution import ExternalObjectRef, ExternalSystem
from execution_core.repositories.internal_objects import InternalObjectRepository

_KINDS = {"internal.create_note": InternalObjectKind.NOTE, "internal.create_task": InternalObjectKind.TASK}


class InternalToolParameters(FrozenModel):
    title: ShortText
    body: Annotated[str, Field(max_length=10_000)] | None = None
    due_date: date | None = None


@dataclass(frozen=True)
class InternalAdapter:
    objects: InternalObjectRepository
    clock: Callable[[], datetime] = utc_now

    def create(self, request: AdapterRequest) -> AdapterResponse:
        """The object id is derived from the idempotency key: a repeat returns the original object."""
        kind = _KINDS.get(request.tool_name)
        if kind is None:
            raise InvalidInputError(f"the internal adapter has no tool {request.tool_name}")
        parameters = parse_payload(InternalToolParameters, request.parameters)
        if kind is InternalObjectKind.NOTE and parameters.due_date is not None:
            raise InvalidInputError("a note has no due date")
        object_id = f"{kind.value.lower()}-{request.idempotency_key.removeprefix('idem-')[:40]}"
        created, stored = self.objects.put(
            InternalObject(
                tenant_id=request.tenant_id,
                account_id=request.account_id,
                kind=kind,
                object_id=object_id,
                title=parameters.title,
                body=parameters.body,
                due_date=parameters.due_date,
                idempotency_key=request.idempotency_key,
                action_intent_id=request.action_intent_id,
                created_at=self.clock(),
            )
        )
        ref = ExternalObjectRef(
            system=ExternalSystem.INTERNAL, object_type=kind.value, object_id=stored.object_id
        )
        return AdapterResponse(
            external_object_refs=[ref],
            raw_response={"object": stored.model_dump(mode="json"), "created": created},
            tool_run_ref=stored.object_id,
            replayed=not created,
        )
