"""PerformAction for internal.create_note / internal.create_task: at most one object per idempotency key."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.contracts import PreparedExecution, parse_payload
from execution_core.errors import KillSwitchEnabledError
from execution_core.observability import MetricName, correlate
from execution_core.snapstart import prepare_snapshot
from execution_core.wiring.internal_adapter import build

root = build()  # the composition root, once per container (ADR 0020)
logger, tracing, metrics, adapter = root.logger, root.tracing, root.metrics, root.adapter


@logger.inject_lambda_context(clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    prepared = parse_payload(PreparedExecution, event)
    correlate(logger, **prepared.correlation_keys())
    try:
        result = adapter.act(prepared)
    except KillSwitchEnabledError:
        metrics.count(MetricName.KILL_SWITCH_BLOCKED)
        logger.warning("kill switch blocked the effect")
        raise
    logger.info("internal object written", extra={"replayed": result.replayed})
    return result.model_dump(mode="json")


prepare_snapshot()  # SnapStart hooks, where the runtime has them
