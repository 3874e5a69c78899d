"""internal.create_note / internal.create_task: at most one object per idempotency key."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.aws import aws_client
from execution_core.contracts import AdapterRequest, parse_payload
from execution_core.observability import correlate
from execution_core.repositories.internal_objects import InternalObjectRepository
from execution_core.services.internal_adapter import InternalAdapter
from execution_core.settings import InternalObjectsTable, load_settings

settings = load_settings(InternalObjectsTable, "internal_adapter")
logger = Logger()
adapter = InternalAdapter(
    objects=InternalObjectRepository(aws_client("dynamodb"), settings.internal_objects_table_name)
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_payload(AdapterRequest, event)
    correlate(
        logger,
        action_intent_id=request.action_intent_id,
        tenant_id=request.tenant_id,
        account_id=request.account_id,
        trace_id=request.trace_id,
    )
    return adapter.create(request).model_dump(mode="json")
