"""DynamoDB Streams → Lambda for the emulator: what an event source mapping does, in a poller thread.

moto records stream records (and would invoke a mapped function synchronously inside the table write,
without batching, filters, partial failures or an on-failure destination). So the runtime never creates
the mapping in moto: it polls the stream through the ordinary API and delivers batches to the function
in-process, the way Lambda's event source mapping does:

* batches of up to BatchSize records, FilterCriteria on ``eventName`` applied first;
* ``batchItemFailures``: the records before the first failed one are done, the rest is retried;
* a function error: the batch is bisected (BisectBatchOnFunctionError) or retried whole;
* after MaximumRetryAttempts the batch goes to the OnFailure destination (an SQS message describing it,
  as Lambda sends) and the shard moves on.

Retries wait ``retry_wait_scale`` times Lambda's backoff, like the emulator's Step Functions retries.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local_runtime.lambdas import LocalFunction

ClientFactory = Callable[[str], Any]
_POLL_SECONDS = 0.05
_BASE_BACKOFF_SECONDS = 1.0


@dataclass(frozen=True)
class StreamMapping:
    logical_id: str
    function: LocalFunction
    stream_arn: str
    batch_size: int = 100
    event_names: frozenset[str] | None = None  # from FilterCriteria {"eventName": [...]}
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1  # -1: until the record expires (24 h) — bounded here by a cap
    on_failure_queue_arn: str | None = None

    @classmethod
    def from_properties(
        cls, logical_id: str, props: dict[str, Any], function: LocalFunction
    ) -> StreamMapping:
        names: set[str] | None = None
        for criterion in props.get("FilterCriteria", {}).get("Filters", []):
            pattern = json.loads(criterion["Pattern"])
            names = (names or set()) | set(pattern.get("eventName", []))
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return cls(
            logical_id=logical_id,
            function=function,
            stream_arn=str(props["EventSourceArn"]),
            batch_size=int(props.get("BatchSize", 100)),
            event_names=frozenset(names) if names is not None else None,
            report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            on_failure_queue_arn=str(destination) if destination else None,
        )


@dataclass
class StreamPoller:
    """One thread per mapping; ``idle()`` says every record read so far has been delivered."""

    mapping: StreamMapping
    client: ClientFactory
    region: str
    retry_wait_scale: float = 1.0
    delivered: int = 0  # records handed to the function successfully
    dead_lettered: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _progress: threading.Condition = field(default_factory=threading.Condition)
    _iteration: int = 0  # polling rounds begun
    _quiet: int = -1  # the last round that found nothing new (everything before it is delivered)
    _thread: threading.Thread | None = None

    def start(self) -> StreamPoller:
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"stream-{self.mapping.logical_id}"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once a polling round that began after this call found nothing left to deliver."""
        with self._progress:
            target = self._iteration + 1
            return self._progress.wait_for(lambda: self._quiet >= target, timeout)

    # ------------------------------------------------------------------ polling
    def _run(self) -> None:
        streams = self.client("dynamodbstreams")
        last_sequence: dict[str, str] = {}  # shard id -> the last sequence number handed on
        while not self._stop.is_set():
            with self._progress:
                self._iteration += 1
                current = self._iteration
            try:
                read_any = False
                for shard in streams.describe_stream(StreamArn=self.mapping.stream_arn)["StreamDescription"][
                    "Shards"
                ]:
                    records = self._read(streams, shard["ShardId"], last_sequence.get(shard["ShardId"]))
                    if records:
                        read_any = True
                        self._deliver([self._lambda_record(r) for r in records])
                        last_sequence[shard["ShardId"]] = records[-1]["dynamodb"]["SequenceNumber"]
                if not read_any:
                    with self._progress:
                        self._quiet = current
                        self._progress.notify_all()
            except Exception:
                if self._stop.is_set():
                    return
            self._stop.wait(_POLL_SECONDS)

    def _read(self, streams: Any, shard_id: str, after: str | None) -> list[dict[str, Any]]:
        """The next records of a shard. A fresh iterator every round: moto replaces a table's shard object
        when it rolls a cancelled transaction back, and an old iterator would keep reading the stale one."""
        position = {"ShardIteratorType": "TRIM_HORIZON"}
        if after is not None:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        iterator = streams.get_shard_iterator(StreamArn=self.mapping.stream_arn, ShardId=shard_id, **position)
        response = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=self.mapping.batch_size)
        return list(response.get("Records", []))

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A stream record as Lambda hands it to a function (plain JSON, with eventSourceARN)."""
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {
            **record,
            "dynamodb": dynamodb,
            "eventSourceARN": self.mapping.stream_arn,
            "awsRegion": self.region,
        }

    # ------------------------------------------------------------------ delivering
    def _deliver(self, records: list[dict[str, Any]]) -> None:
        names = self.mapping.event_names
        batch = [r for r in records if names is None or r.get("eventName") in names]
        if batch:
            self._deliver_batch(batch)

    def _deliver_batch(self, batch: list[dict[str, Any]]) -> None:
        attempts = 0
        retries = self.mapping.maximum_retry_attempts if self.mapping.maximum_retry_attempts >= 0 else 10
        while batch:
            payload, errored = self.mapping.function.invoke({"Records": batch})
            if not errored:
                failed_from = self._first_failed(batch, payload)
                self.delivered += failed_from
                batch = batch[failed_from:]
                if not batch:
                    return
            elif self.mapping.bisect_on_error and len(batch) > 1:
                half = len(batch) // 2
                self._deliver_batch(batch[:half])
                self._deliver_batch(batch[half:])
                return
            if attempts >= retries:
                self._dead_letter(batch)
                return
            attempts += 1
            time.sleep(min(_BASE_BACKOFF_SECONDS * 2 ** (attempts - 1), 8.0) * self.retry_wait_scale)

    def _first_failed(self, batch: list[dict[str, Any]], payload: str) -> int:
        """How many records from the start of the batch succeeded (all, unless partial failures name one)."""
        if not self.mapping.report_batch_item_failures:
            return len(batch)
        try:
            failures = json.loads(payload).get("batchItemFailures", [])
        except (ValueError, AttributeError):
            return 0  # an unreadable response fails the whole batch, as Lambda treats it
        failed = {f.get("itemIdentifier") for f in failures}
        for index, record in enumerate(batch):
            if record["dynamodb"].get("SequenceNumber") in failed:
                return index
        return len(batch)

    def _dead_letter(self, batch: list[dict[str, Any]]) -> None:
        if self.mapping.on_failure_queue_arn is None:
            self.dead_lettered += len(batch)
            return
        sqs = self.client("sqs")
        queue_name = self.mapping.on_failure_queue_arn.rsplit(":", 1)[-1]
        queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
        # The shape Lambda sends to an on-failure destination for a stream batch (metadata, not records).
        message = {
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "functionArn": self.mapping.function.function_arn,
            },
            "DDBStreamBatchInfo": {
                "streamArn": self.mapping.stream_arn,
                "startSequenceNumber": sequence[0],
                "endSequenceNumber": sequence[-1],
                "batchSize": len(batch),
            },
        }
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
        self.dead_lettered += len(batch)
