"""Records the tool adapters keep: write dedupe, the internal store, connector configuration."""

from datetime import date
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, JsonValue

from execution_core.models.common import FrozenModel, Identifier, ShortText, UtcDatetime
from execution_core.models.execution import ArtifactRef, ExternalObjectRef

IdempotencyKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{8,256}$")]


class ExternalWriteStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"


class ExternalWriteRecord(FrozenModel):
    idempotency_key: IdempotencyKey
    status: ExternalWriteStatus
    tool_name: Identifier
    refs: list[ExternalObjectRef] | None = None
    # The downstream system's answer, kept (it is small) so a replay can still store the raw artifact
    # if the attempt that got the answer died before it did.
    raw_response: Annotated[dict[str, JsonValue], Field(max_length=50)] | None = None
    raw_response_artifact_ref: ArtifactRef | None = None
    created_at: UtcDatetime  # when it was last reserved: no request under this key started before it
    completed_at: UtcDatetime | None = None
    ttl: Annotated[int, Field(ge=0)] | None = None
    # How many attempts reserved this write. More than one: an earlier attempt may have sent its request
    # and died without an answer, so a later refusal does not prove that nothing was written.
    reservations: Annotated[int, Field(ge=1)] = 1


class InternalObjectKind(StrEnum):
    NOTE = "NOTE"
    TASK = "TASK"


# The internal adapter's tools and the kind of object each creates.
INTERNAL_TOOL_KINDS = {
    "internal.create_note": InternalObjectKind.NOTE,
    "internal.create_task": InternalObjectKind.TASK,
}


class InternalObject(FrozenModel):
    tenant_id: Identifier
    account_id: Identifier
    kind: InternalObjectKind
    object_id: Identifier
    title: ShortText
    body: Annotated[str, Field(max_length=10_000)] | None = None
    due_date: date | None = None
    idempotency_key: IdempotencyKey
    action_intent_id: Identifier | None = None
    raw_response_artifact_ref: ArtifactRef | None = None
    created_at: UtcDatetime


DEFAULT_EXTERNAL_ID_FIELD = "Idempotency_Key__c"


class ConnectorType(StrEnum):
    CRM = "CRM"


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _https_origin(url: str) -> str:
    # Only the origin is configurable; paths are the adapter's business. The allow-list check is the
    # adapter's too, since it depends on deployment configuration. Plain http is accepted only on loopback,
    # where the local CRM test server listens; anything that leaves the host must use TLS.
    parts = urlsplit(url)
    plain_http_on_loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    if parts.scheme != "https" and not plain_http_on_loopback:
        raise ValueError("instance_url must be an https URL (plain http only on a loopback host)")
    if not parts.hostname or "@" in parts.netloc:
        raise ValueError("instance_url must be an https URL without credentials")
    parts.port  # noqa: B018 - raises ValueError for a malformed or out-of-range port
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ValueError("instance_url must be a bare origin")
    return f"{parts.scheme}://{parts.netloc}"


class ConnectorConfig(FrozenModel):
    """Where a tenant's CRM lives and which secret holds its credentials (never the credentials)."""

    tenant_id: Identifier
    account_id: Identifier
    connector_type: ConnectorType
    instance_url: Annotated[str, Field(max_length=512), AfterValidator(_https_origin)]
    secret_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9/_+=.@:-]{1,2048}$")]
    # The CRM field (marked External ID and Unique) that carries our idempotency key, so a write is an
    # upsert by that key and a retry can never create a second record.
    external_id_field: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")] = (
        DEFAULT_EXTERNAL_ID_FIELD
    )
    updated_at: UtcDatetime | None = None
