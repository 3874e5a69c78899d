"""Publishing to EventBridge: PutEvents reports failures per entry, so only failed entries are retried."""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from execution_core.errors import EventPublishError

MAX_ATTEMPTS = 3
_BACKOFF_SECONDS = 0.1


@dataclass(frozen=True)
class OutgoingEvent:
    detail_type: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class EventPublisher:
    """A small retry loop of its own (bounded: 3 attempts, < 1 s), because PutEvents answers 200 with
    per-entry failures that neither the SDK nor Step Functions would retry. Exhausted retries raise
    EventPublishError, which Step Functions retries as a whole (the recorder is idempotent)."""

    client: Any
    bus_name: str
    source: str

    def publish(self, events: Sequence[OutgoingEvent]) -> None:
        pending = [
            {
                "EventBusName": self.bus_name,
                "Source": self.source,
                "DetailType": event.detail_type,
                "Detail": json.dumps(event.detail, sort_keys=True, separators=(",", ":")),
            }
            for event in events
        ]
        for attempt in range(MAX_ATTEMPTS):
            try:
                response = self.client.put_events(Entries=pending)
            except (ClientError, BotoCoreError) as exc:
                raise EventPublishError(f"PutEvents failed ({type(exc).__name__})") from exc
            if not response.get("FailedEntryCount"):
                return
            pending = [
                entry
                for entry, result in zip(pending, response["Entries"], strict=True)
                if result.get("ErrorCode")
            ]
            if attempt + 1 < MAX_ATTEMPTS:
                time.sleep(_BACKOFF_SECONDS * 2**attempt)
        raise EventPublishError(f"{len(pending)} event(s) not accepted after {MAX_ATTEMPTS} attempts")
