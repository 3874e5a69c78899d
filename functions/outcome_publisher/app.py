"""OutcomePublisher: the outbox. Each new outcome (its DynamoDB stream record) becomes SIGNAL_CREATED and
ACTION_EXECUTED / ACTION_FAILED on the stack's bus (thin handler over Powertools' batch processor).

A record that fails is reported in batchItemFailures, so only it and the records after it are retried;
a batch that keeps failing goes to the publisher's dead-letter queue (the event source mapping's
OnFailure destination).
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.aws import aws_client
from execution_core.errors import InvalidInputError
from execution_core.observability import MetricName, ObservabilitySettings, business_metrics, correlate
from execution_core.repositories.outcomes import ExecutionOutcomeRepository
from execution_core.services.events import EventPublisher
from execution_core.services.outbox import OutcomeOutbox
from execution_core.settings import EventBus, load_settings
from execution_core.snapstart import prepare_snapshot
from execution_core.tracing import start_tracing


class Settings(EventBus, ObservabilitySettings):
    """What this function reads from its environment."""


settings = load_settings(Settings, "outcome_publisher")
logger = Logger()
tracing = start_tracing()  # Powertools Tracer only when tracing is on (ADR 0014)
metrics = business_metrics(settings)
outbox = OutcomeOutbox(
    EventPublisher(
        client=aws_client("events"), bus_name=settings.event_bus_name, source=settings.execution_event_source
    )
)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def publish_record(record: DynamoDBRecord) -> None:
    # The NewImage carries the whole outcome: no table is read.
    outcome = ExecutionOutcomeRepository.parse_item(record.raw_event["dynamodb"]["NewImage"])
    correlate(
        logger,
        action_intent_id=outcome.action_intent_id,
        tenant_id=outcome.tenant_id,
        account_id=outcome.account_id,
        trace_id=outcome.trace_id,
    )
    outbox.publish(outcome)
    metrics.count(MetricName.OUTCOMES_PUBLISHED)
    logger.info("outcome published", extra={"status": outcome.status.value})


@logger.inject_lambda_context(clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        raise InvalidInputError("expected a DynamoDB stream batch (Records)")
    response = process_partial_response(
        event=event, record_handler=publish_record, processor=processor, context=context
    )
    return dict(response)


prepare_snapshot()  # SnapStart hooks, where the runtime has them
