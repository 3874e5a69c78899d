"""InvokeTool: call the adapter of the tool's namespace once, keep its raw response in S3."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from execution_core.aws import aws_client
from execution_core.contracts import StartedExecution, parse_payload
from execution_core.observability import correlate
from execution_core.services.tool_invoker import ToolInvoker
from execution_core.settings import ArtifactsBucket, ComponentSettings, load_settings


class Settings(ArtifactsBucket, ComponentSettings):
    internal_adapter_function_name: Annotated[str, Field(min_length=1, max_length=170)]
    crm_adapter_function_name: Annotated[str, Field(min_length=1, max_length=170)]
    adapter_timeout_seconds: Annotated[int, Field(ge=1, le=900)]


settings = load_settings(Settings, "tool_invoker")
logger = Logger()
invoker = ToolInvoker(
    # One attempt and a read timeout just above the adapter's own timeout: Step Functions owns retries.
    lambda_client=aws_client("lambda", read_timeout=settings.adapter_timeout_seconds + 5, max_attempts=1),
    s3_client=aws_client("s3"),
    artifacts_bucket=settings.artifacts_bucket_name,
    adapters_by_namespace={
        "internal": settings.internal_adapter_function_name,
        "crm": settings.crm_adapter_function_name,
    },
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = parse_payload(StartedExecution, event)
    correlate(logger, **started.correlation_keys())
    result = invoker.invoke(started)
    logger.info("tool invoked", extra={"replayed": result.replayed, "refs": len(result.external_object_refs)})
    return result.model_dump(mode="json")
