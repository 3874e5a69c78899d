"""RecordOutcome: outcome + attempt + ledger + signal in one transaction, then the events; a retry
changes nothing."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.contracts import RecordDisposition, RecordRequest, parse_payload
from execution_core.observability import MetricName, business_metrics, correlate
from execution_core.services.recording import RecorderSettings, build_outcome_recorder
from execution_core.settings import load_settings
from execution_core.snapstart import prepare_snapshot
from execution_core.tracing import start_tracing

settings = load_settings(RecorderSettings, "execution_recorder")
logger = Logger()
tracing = start_tracing()  # Powertools Tracer only when tracing is on (ADR 0014)
metrics = business_metrics(settings)
recorder = build_outcome_recorder(settings)


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
