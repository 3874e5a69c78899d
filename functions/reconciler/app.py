"""Reconciler: the finalizer (Step Functions status-change events) and the sweeper (a schedule, or an
operator's `execctl reconcile`), both settling attempts from the effect store (thin handler)."""

from datetime import timedelta
from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from execution_core.contracts import OpenModel, parse_payload
from execution_core.errors import InvalidInputError
from execution_core.observability import MetricName, correlate
from execution_core.services.reconciler import (
    SWEEP_GRACE,
    SWEEP_LIMIT,
    Disposition,
    parse_status_change,
)
from execution_core.snapstart import prepare_snapshot
from execution_core.wiring.reconciler import build

STATUS_CHANGE = "Step Functions Execution Status Change"
SCHEDULED = "Scheduled Event"


class SweepRequest(OpenModel):
    dry_run: bool = False
    limit: Annotated[int, Field(ge=1, le=100)] = SWEEP_LIMIT
    # Attempts younger than this are left to the pipeline; an operator may look at all of them (0).
    older_than_seconds: Annotated[int, Field(ge=0, le=86_400)] = int(SWEEP_GRACE.total_seconds())
    # The sweeper defers what it could not settle; an operator may ask for everything now.
    include_deferred: bool = False


root = build()  # the composition root, once per container (ADR 0020)
logger, tracing, metrics, reconciler = root.logger, root.tracing, root.metrics, root.reconciler


@logger.inject_lambda_context(clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("detail-type") == STATUS_CHANGE:
        change = parse_status_change(event)
        correlate(logger, execution_id=change.execution_arn)
        settled = reconciler.finalize(change)
        if settled.disposition is Disposition.RECORDED:
            metrics.count(MetricName.OUTCOMES_FINALIZED)
        logger.info(
            "execution finalized",
            extra={
                "status": change.status,
                "disposition": settled.disposition.value,
                "outcome": settled.status,
            },
        )
        return {"disposition": settled.disposition.value, "status": settled.status}
    if isinstance(event, dict) and event.get("detail-type") == SCHEDULED:
        request = SweepRequest()
    elif isinstance(event, dict) and isinstance(event.get("sweep"), dict):  # execctl reconcile
        request = parse_payload(SweepRequest, event["sweep"])
    else:
        raise InvalidInputError("expected a status-change event, a scheduled event or {'sweep': {...}}")
    report = reconciler.sweep(
        limit=request.limit,
        dry_run=request.dry_run,
        older_than=timedelta(seconds=request.older_than_seconds),
        include_deferred=request.include_deferred,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    if not request.dry_run:  # the sweeper's own figures; SweeperFinalized > 0 means it found work (alarm)
        metrics.count(MetricName.SWEEPER_CHECKED, report.checked)
        metrics.count(MetricName.SWEEPER_FINALIZED, report.count(Disposition.RECORDED))
        metrics.count(MetricName.SWEEPER_IN_DOUBT, report.count(Disposition.IN_DOUBT))
        metrics.count(MetricName.SWEEPER_ERRORS, report.count(Disposition.ERROR))
    summary = report.as_dict()
    logger.info(
        "sweep done",
        extra={k: v for k, v in summary.items() if k != "results"} | {"dry_run": request.dry_run},
    )
    return summary


prepare_snapshot()  # SnapStart hooks, where the runtime has them
