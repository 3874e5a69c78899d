"""Watching what the stack publishes: an SQS queue behind an EventBridge rule on the stack's event source.

Used by the demo (`make run` checks every outcome was published) and by the tests.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from local_runtime.emulator import LocalStack


class EventTap:
    """An SQS queue behind an EventBridge rule on everything the stack publishes (its outcome events)."""

    def __init__(self, runtime: LocalStack) -> None:
        self._runtime = runtime
        self._sqs = runtime.client("sqs")
        outputs = runtime.outputs()
        name = f"event-tap-{uuid.uuid4().hex[:8]}"
        self.queue_url = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = runtime.client("events")
        bus = outputs["ExecutionEventBusName"]
        events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps({"source": [outputs["ExecutionEventSource"]]}),
        )
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}])
        self.seen: list[dict[str, Any]] = []

    def events_for(self, action_intent_id: str) -> list[dict[str, Any]]:
        """Everything published for the intent so far (after the outbox has caught up)."""
        self._runtime.wait_for_streams()
        while True:
            batch = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                self.seen.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [e for e in self.seen if _intent_of(e) == action_intent_id]


def _intent_of(event: dict[str, Any]) -> str | None:
    detail = event["detail"]
    if "signal" in detail:
        return str(detail["signal"]["context"]["action_intent_id"])
    intent_id = detail.get("action_intent_id")
    return str(intent_id) if intent_id is not None else None
