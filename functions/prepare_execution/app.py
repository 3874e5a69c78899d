"""PrepareExecution: load the intent, resolve its pinned registry mapping, take the lease (thin handler)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.contracts import PrepareRequest, parse_payload
from execution_core.errors import DuplicateStartError
from execution_core.observability import MetricName, correlate
from execution_core.snapstart import prepare_snapshot
from execution_core.wiring.prepare_execution import build

root = build()  # the composition root, once per container (ADR 0020)
logger, tracing, metrics, preparer = root.logger, root.tracing, root.metrics, root.preparer


@logger.inject_lambda_context(clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_payload(PrepareRequest, event)
    detail = request.event.detail
    correlate(
        logger,
        action_intent_id=detail.action_intent_id,
        tenant_id=detail.tenant_id,
        account_id=detail.account_id,
        execution_id=request.execution_id,
    )
    try:
        prepared = preparer.prepare(request)
    except DuplicateStartError:
        metrics.count(MetricName.DUPLICATE_STARTS_IGNORED)
        logger.info("duplicate start ignored")
        raise
    logger.thread_safe_append_keys(trace_id=prepared.trace_id)
    metrics.count(MetricName.EXECUTIONS_STARTED)
    logger.info("execution prepared", extra={"tool_name": prepared.tool.tool_name})
    return prepared.model_dump(mode="json")


prepare_snapshot()  # SnapStart hooks, where the runtime has them
