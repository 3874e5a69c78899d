"""RecordFailure: what a failure caught at any stage means, decided by the effect store (thin handler)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.contracts import RecordDisposition, RecordResult
from execution_core.models.execution import OutcomeStatus
from execution_core.observability import MetricName, correlate
from execution_core.snapstart import prepare_snapshot
from execution_core.wiring.execution_failure_recorder import build

root = build()  # the composition root, once per container (ADR 0020)
logger, tracing, metrics, recorder = root.logger, root.tracing, root.metrics, root.recorder
_STATUS_METRICS = {
    OutcomeStatus.SUCCEEDED: MetricName.EXECUTIONS_SUCCEEDED,
    OutcomeStatus.FAILED: MetricName.EXECUTIONS_FAILED,
    OutcomeStatus.CANCELLED: MetricName.EXECUTIONS_CANCELLED,
    OutcomeStatus.EXPIRED: MetricName.EXECUTIONS_EXPIRED,
}


def _count(result: RecordResult) -> None:
    """Counted once, when something is written (not on retries or duplicates)."""
    if result.disposition is RecordDisposition.NOT_EXECUTED:
        metrics.count(MetricName.APPROVALS_NOT_EXECUTED, error_code=str(result.error_code or "INVALID_INPUT"))
        return
    if result.disposition is RecordDisposition.IN_DOUBT:
        metrics.count(MetricName.OUTCOMES_IN_DOUBT)
        return
    if result.disposition is not RecordDisposition.RECORDED or result.status is None:
        return
    if result.status is OutcomeStatus.FAILED:
        error_class = result.error_class.value if result.error_class else "UNKNOWN"
        metrics.count(MetricName.EXECUTIONS_FAILED, error_class=error_class)
    else:
        metrics.count(_STATUS_METRICS[result.status])
    metrics.count(MetricName.SIGNALS_EMITTED)


@logger.inject_lambda_context(clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = event.get("state") if isinstance(event, dict) else None
    detail = state.get("detail") if isinstance(state, dict) else None
    if isinstance(detail, dict):  # correlation only; the recorder validates everything
        correlate(
            logger,
            action_intent_id=str(detail.get("action_intent_id", ""))[:128],
            tenant_id=str(detail.get("tenant_id", ""))[:128],
            account_id=str(detail.get("account_id", ""))[:128],
        )
    result = recorder.record_failure(event)
    _count(result)
    logger.info(
        "failure recorded",
        extra={
            "disposition": result.disposition.value,
            "status": result.status,
            "error_code": result.error_code,
        },
    )
    return result.model_dump(mode="json")


prepare_snapshot()  # SnapStart hooks, where the runtime has them
