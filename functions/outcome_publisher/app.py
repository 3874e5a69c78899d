"""OutcomePublisher: the outbox. Each new outcome (its DynamoDB stream record) becomes SIGNAL_CREATED and
ACTION_EXECUTED / ACTION_FAILED on the stack's bus (thin handler over Powertools' batch processor).

A record that fails is reported in batchItemFailures, so only it and the records after it are retried;
a batch that keeps failing goes to the publisher's dead-letter queue (the event source mapping's
OnFailure destination).
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.errors import InvalidInputError
from execution_core.observability import MetricName, correlate
from execution_core.snapstart import prepare_snapshot
from execution_core.wiring.outcome_publisher import build

root = build()  # the composition root, once per container (ADR 0020)
logger, tracing, metrics, outbox = root.logger, root.tracing, root.metrics, root.outbox
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def publish_record(record: DynamoDBRecord) -> None:
    # The NewImage carries the whole outcome: no table is read.
    outcome = root.parse_outcome(record.raw_event["dynamodb"]["NewImage"])
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
