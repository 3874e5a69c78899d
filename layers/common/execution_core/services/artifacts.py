"""Raw tool responses in S3 (docs/architecture.md §4.9): written once by the adapter that holds them, never
overwritten."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from execution_core.errors import DownstreamError, StateConflictError

_ALREADY_STORED = "PreconditionFailed"  # If-None-Match: * refused: the first answer is kept


def artifact_key(tenant_id: str, account_id: str, action_intent_id: str, attempt_count: int) -> str:
    """tenant/account/intent/attempt: where the raw response of the attempt that made the effect lives."""
    return "/".join([tenant_id, account_id, action_intent_id, f"attempt-{attempt_count}", "response.json"])


@dataclass(frozen=True)
class ArtifactStore:
    s3_client: Any
    bucket: str

    def ref_for(self, tenant_id: str, account_id: str, action_intent_id: str, attempt_count: int) -> str:
        return f"s3://{self.bucket}/{artifact_key(tenant_id, account_id, action_intent_id, attempt_count)}"

    def store_once(self, ref: str, body: Mapping[str, Any]) -> None:
        """Create the artifact unless it exists (S3 conditional write): a replay never overwrites the
        original answer, and an attempt that died before storing it is made good by the next one."""
        bucket, _, key = ref.removeprefix("s3://").partition("/")
        if bucket != self.bucket or not key:
            raise StateConflictError("The artifact reference points outside the artifacts bucket")
        try:
            self.s3_client.put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(body, sort_keys=True).encode(),
                ContentType="application/json",
                ServerSideEncryption="AES256",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _ALREADY_STORED:
                return
            raise DownstreamError(f"storing the raw response failed ({type(exc).__name__})") from exc
        except BotoCoreError as exc:
            raise DownstreamError(f"storing the raw response failed ({type(exc).__name__})") from exc
