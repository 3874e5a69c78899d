"""The outcome publisher's composition root (ADR 0020): settings → EventBridge client → the outbox."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from execution_core.aws import aws_client
from execution_core.models.execution import ActionOutcome
from execution_core.observability import BusinessMetrics, business_metrics
from execution_core.repositories.outcomes import ExecutionOutcomeRepository
from execution_core.services.events import EventPublisher
from execution_core.services.outbox import OutcomeOutbox
from execution_core.settings import OutcomePublisherSettings, load_settings
from execution_core.tracing import Tracing, start_tracing


@dataclass(frozen=True)
class Root:
    settings: OutcomePublisherSettings
    logger: Logger
    tracing: Tracing
    metrics: BusinessMetrics
    outbox: OutcomeOutbox
    # A stream record's NewImage carries the whole outcome: the table's own parser reads it, no table read.
    parse_outcome: Callable[[dict[str, Any]], ActionOutcome]


def build() -> Root:
    settings = load_settings(OutcomePublisherSettings, "outcome_publisher")
    outbox = OutcomeOutbox(
        EventPublisher(
            client=aws_client("events"),
            bus_name=settings.event_bus_name,
            source=settings.execution_event_source,
        )
    )
    return Root(
        settings=settings,
        logger=Logger(),
        tracing=start_tracing(),  # Powertools Tracer only when tracing is on (ADR 0014)
        metrics=business_metrics(settings),
        outbox=outbox,
        parse_outcome=ExecutionOutcomeRepository.parse_item,
    )
