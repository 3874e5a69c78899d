"""Effect-store truth: what the idempotency key already produced, asked before any outcome is written.

The key addresses the effect: InternalObjects for internal tools (the object id derives from the key),
ExternalWrites for connectors (the reservation becomes COMPLETED with the created object's refs). Every
recorder (success, failure, finalizer, sweeper) asks here and commits its outcome together with a
ConditionCheck that the answer still holds, so an effect is never recorded as absent, nor a missing one
as present.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from execution_core.errors import InvalidInputError
from execution_core.models.adapters import INTERNAL_TOOL_KINDS, ExternalWriteStatus, InternalObjectKind
from execution_core.models.execution import ExternalObjectRef, ExternalSystem
from execution_core.repositories.dynamo import TransactItem
from execution_core.repositories.external_writes import ExternalWriteRepository
from execution_core.repositories.internal_objects import InternalObjectRepository
from execution_core.services.deterministic_ids import internal_object_id

INTERNAL_NAMESPACE = "internal"


class EffectState(StrEnum):
    ABSENT = "ABSENT"  # nothing was written under the key (or a definite failure released it)
    PRESENT = "PRESENT"  # the effect exists; refs say where
    IN_DOUBT = "IN_DOUBT"  # a connector write was sent and never confirmed: it may or may not exist


@dataclass(frozen=True)
class EffectAddress:
    """Where an effect lives: the owner's partition, the tool and the idempotency key."""

    tenant_id: str
    account_id: str
    tool_name: str
    idempotency_key: str

    @property
    def internal(self) -> bool:
        return self.tool_name.split(".", 1)[0] == INTERNAL_NAMESPACE

    def internal_kind(self) -> InternalObjectKind:
        kind = INTERNAL_TOOL_KINDS.get(self.tool_name)
        if kind is None:
            raise InvalidInputError(f"the internal adapter has no tool {self.tool_name}")
        return kind

    def internal_object_id(self) -> str:
        return internal_object_id(self.internal_kind().value, self.idempotency_key)


@dataclass(frozen=True)
class Effect:
    state: EffectState
    refs: list[ExternalObjectRef] = field(default_factory=list)
    raw_response_artifact_ref: str | None = None
    tool_run_ref: str | None = None


@dataclass(frozen=True)
class EffectStore:
    internal_objects: InternalObjectRepository
    external_writes: ExternalWriteRepository

    def lookup(self, address: EffectAddress) -> Effect:
        """One consistent read of the effect's record."""
        if address.internal:
            kind = address.internal_kind()
            obj = self.internal_objects.get(
                address.tenant_id, address.account_id, kind, address.internal_object_id()
            )
            if obj is None or obj.idempotency_key != address.idempotency_key:
                return Effect(EffectState.ABSENT)
            ref = ExternalObjectRef(
                system=ExternalSystem.INTERNAL, object_type=kind.value, object_id=obj.object_id
            )
            return Effect(EffectState.PRESENT, [ref], obj.raw_response_artifact_ref, obj.object_id)
        record = self.external_writes.get(address.idempotency_key)
        if record is None:
            return Effect(EffectState.ABSENT)
        if record.status is ExternalWriteStatus.COMPLETED and record.refs:
            return Effect(
                EffectState.PRESENT,
                list(record.refs),
                record.raw_response_artifact_ref,
                record.refs[0].object_id,
            )
        return Effect(EffectState.IN_DOUBT)

    def still_check(self, address: EffectAddress, effect: Effect) -> TransactItem:
        """TransactWriteItems ConditionCheck: the effect store still says what ``effect`` says."""
        if address.internal:
            return self.internal_objects.presence_check(
                address.tenant_id,
                address.account_id,
                address.internal_kind(),
                address.internal_object_id(),
                present=effect.state is EffectState.PRESENT,
            )
        if effect.state is EffectState.PRESENT:
            return self.external_writes.completed_check(address.idempotency_key, effect.refs[0].object_id)
        status = ExternalWriteStatus.PENDING if effect.state is EffectState.IN_DOUBT else None
        return self.external_writes.unchanged_check(address.idempotency_key, status)
