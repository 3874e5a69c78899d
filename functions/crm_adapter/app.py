"""PerformAction for crm.create_task: one CRM task per idempotency key, by upsert (thin handler).

Everything is built once per container at import, by its composition root, so a missing variable fails
the cold start with its name. Errors propagate: their class name is the Lambda errorType the state
machine's Retry/Catch match.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.contracts import PreparedExecution, ResolveRequest, parse_payload
from execution_core.errors import KillSwitchEnabledError
from execution_core.observability import MetricName, correlate
from execution_core.snapstart import prepare_snapshot
from execution_core.wiring.crm_adapter import build

root = build()  # the composition root, once per container (ADR 0020)
logger, tracing, metrics, adapter = root.logger, root.tracing, root.metrics, root.adapter


@logger.inject_lambda_context(clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "resolve" in event:  # the reconciler settling an in-doubt write
        request = parse_payload(ResolveRequest, event["resolve"])
        correlate(
            logger,
            action_intent_id=request.action_intent_id,
            tenant_id=request.tenant_id,
            account_id=request.account_id,
        )
        state = adapter.resolve(request)
        logger.info("crm write looked up", extra={"state": state.value})
        return {"state": state.value}
    prepared = parse_payload(PreparedExecution, event)
    correlate(logger, **prepared.correlation_keys())
    try:
        return adapter.act(prepared).model_dump(mode="json")
    except KillSwitchEnabledError:
        metrics.count(MetricName.KILL_SWITCH_BLOCKED)
        logger.warning("kill switch blocked the effect")
        raise


prepare_snapshot(http_pools=[root.http])  # SnapStart hooks, where the runtime has them
