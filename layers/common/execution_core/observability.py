"""Logs and metrics every function shares: correlation keys and business metrics in one namespace.

Metrics are emitted one EMF line per business event (Powertools ``single_metric``) rather than through
the shared Metrics buffer: the buffer is process-wide, and the local runtime runs every function in one
process, where a shared buffer would flush one function's metrics under another's service name.
Namespace and service are read once at cold start with the rest of the settings.
"""

from dataclasses import dataclass
from enum import StrEnum

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from execution_core.settings import ObservabilitySettings


class MetricName(StrEnum):
    EXECUTIONS_STARTED = "ExecutionsStarted"
    EXECUTIONS_SUCCEEDED = "ExecutionsSucceeded"
    EXECUTIONS_FAILED = "ExecutionsFailed"
    EXECUTIONS_CANCELLED = "ExecutionsCancelled"
    EXECUTIONS_EXPIRED = "ExecutionsExpired"
    DUPLICATE_STARTS_IGNORED = "DuplicateStartsIgnored"
    KILL_SWITCH_BLOCKED = "KillSwitchBlocked"
    SIGNALS_EMITTED = "SignalsEmitted"
    APPROVALS_NOT_EXECUTED = "ApprovalsNotExecuted"
    OUTCOMES_IN_DOUBT = "OutcomesInDoubt"
    OUTCOMES_PUBLISHED = "OutcomesPublished"
    OUTCOMES_FINALIZED = "OutcomesFinalized"  # recorded by the finalizer or the sweeper, not the pipeline
    SWEEPER_CHECKED = "SweeperChecked"
    SWEEPER_FINALIZED = "SweeperFinalized"
    SWEEPER_IN_DOUBT = "SweeperInDoubt"
    SWEEPER_ERRORS = "SweeperErrors"


@dataclass(frozen=True)
class BusinessMetrics:
    namespace: str
    service: str

    def count(self, name: MetricName, value: int = 1, **dimensions: str) -> None:
        with single_metric(
            name=name.value,
            unit=MetricUnit.Count,
            value=value,
            namespace=self.namespace,
            default_dimensions={"service": self.service, **dimensions},
        ):
            pass


def business_metrics(settings: ObservabilitySettings) -> BusinessMetrics:
    return BusinessMetrics(settings.powertools_metrics_namespace, settings.powertools_service_name)


def correlate(logger: Logger, **keys: str | None) -> None:
    """Start an invocation's correlation keys (action_intent_id, tenant_id, account_id, execution_id).

    Thread-local keys: the local runtime runs concurrent invocations of one function in threads.
    """
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(**{k: v for k, v in keys.items() if v})
