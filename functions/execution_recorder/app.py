"""RecordOutcome: outcome + attempt + ledger + signal in one transaction, then the events; a retry
changes nothing."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.contracts import RecordDisposition, RecordRequest, parse_payload
from execution_core.observability import MetricName, correlate
from execution_core.snapstart import prepare_snapshot
from execution_core.wiring.execution_recorder import build

root = build()  # the composition root, once per container (ADR 0020)
logger, tracing, metrics, recorder = root.logger, root.tracing, root.metrics, root.recorder


@logger.inject_lambda_context(clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_payload(RecordRequest, event)
    correlate(logger, **request.prepared.correlation_keys())
    result = recorder.record_success(request)
    if result.disposition is RecordDisposition.RECORDED:  # counted once, not on retries
        metrics.count(MetricName.EXECUTIONS_SUCCEEDED)
        metrics.count(MetricName.SIGNALS_EMITTED)
    logger.info("outcome recorded", extra={"disposition": result.disposition.value})
    return result.model_dump(mode="json")


prepare_snapshot()  # SnapStart hooks, where the runtime has them
