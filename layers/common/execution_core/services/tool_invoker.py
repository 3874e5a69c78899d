"""InvokeTool: one synchronous adapter call per attempt, its raw response kept in S3, errors classified."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from execution_core.contracts import (
    AdapterRequest,
    AdapterResponse,
    StartDisposition,
    StartedExecution,
    ToolResult,
    parse_payload,
)
from execution_core.errors import DownstreamError, InvalidInputError, UnknownExecutionError
from execution_core.services.failures import raise_as_error_type


def artifact_key(started: StartedExecution) -> str:
    """tenant/account/intent/attempt: where the raw response of one attempt lives (seed §4)."""
    return "/".join(
        [
            started.tenant_id,
            started.account_id,
            started.action_intent_id,
            f"attempt-{started.attempt_count}",
            "response.json",
        ]
    )


@dataclass(frozen=True)
class ToolInvoker:
    lambda_client: Any
    s3_client: Any
    artifacts_bucket: str
    adapters_by_namespace: Mapping[str, str]  # "internal" -> function name

    def invoke(self, started: StartedExecution) -> ToolResult:
        if (
            started.disposition is not StartDisposition.STARTED
            or started.tool is None
            or started.idempotency_key is None
            or started.trace_id is None
        ):
            raise InvalidInputError("the tool invoker needs a started execution with a resolved tool")
        namespace = started.tool.tool_name.split(".", 1)[0]
        function_name = self.adapters_by_namespace.get(namespace)
        if function_name is None:
            raise InvalidInputError(f"no adapter for tool namespace {namespace}")
        request = AdapterRequest(
            tool_name=started.tool.tool_name,
            tool_schema_version=started.tool.tool_schema_version,
            parameters=started.tool.parameters,
            idempotency_key=started.idempotency_key,
            tenant_id=started.tenant_id,
            account_id=started.account_id,
            action_intent_id=started.action_intent_id,
            attempt_count=max(started.attempt_count, 1),
            trace_id=started.trace_id,
        )
        response = self._call_adapter(function_name, request)
        key = artifact_key(started)
        try:
            self.s3_client.put_object(
                Bucket=self.artifacts_bucket,
                Key=key,
                Body=json.dumps(response.raw_response, sort_keys=True).encode(),
                ContentType="application/json",
                ServerSideEncryption="AES256",
            )
        except (ClientError, BotoCoreError) as exc:
            raise DownstreamError(f"storing the raw response failed ({type(exc).__name__})") from exc
        return ToolResult(
            external_object_refs=response.external_object_refs,
            raw_response_artifact_ref=f"s3://{self.artifacts_bucket}/{key}",
            tool_run_ref=response.tool_run_ref,
            replayed=response.replayed,
        )

    def _call_adapter(self, function_name: str, request: AdapterRequest) -> AdapterResponse:
        try:
            result = self.lambda_client.invoke(
                FunctionName=function_name,
                InvocationType="RequestResponse",
                Payload=request.model_dump_json().encode(),
            )
            payload: Any = json.loads(result["Payload"].read() or b"null")
        except (ClientError, BotoCoreError) as exc:
            raise DownstreamError(f"invoking the adapter failed ({type(exc).__name__})") from exc
        except ValueError as exc:
            raise UnknownExecutionError("the adapter returned a malformed payload") from exc
        if result.get("FunctionError"):
            error_type = str(payload.get("errorType", "")) if isinstance(payload, dict) else ""
            message = str(payload.get("errorMessage", "")) if isinstance(payload, dict) else ""
            raise_as_error_type(error_type, message)
        return parse_payload(AdapterResponse, payload)
