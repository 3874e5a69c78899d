"""EventBridge deliveries the emulator lacks: Step Functions and Lambda targets, retries and dead letters,
Step Functions' own status-change events, and scheduled rules.

* moto's EventBridge delivers to SQS, log groups and buses but raises NotImplementedError for a Step
  Functions or Lambda target. This wraps the rule's (private, hence pinned and guarded) ``send_to_targets``
  (through ``moto_hooks.wrap_rule_delivery``):
  those targets are delivered asynchronously, as EventBridge does, with the target's RetryPolicy and, once
  it is exhausted, its DeadLetterConfig (an SQS message holding the event, with the attributes EventBridge
  sets). Other targets go to moto.
* Step Functions publishes an "Execution Status Change" event on the default bus when an execution ends;
  moto does not. The worker's ``terminated`` callback (private, pinned, guarded) is wrapped to publish it
  (``moto_hooks.wrap_execution_terminated``; the guards are in tests/local_runtime/test_moto_hooks.py).
* Scheduled rules never fire in moto: ``Schedules`` keeps them, and the runtime fires them on demand
  (tests, ``execctl``) or on a timer (``exec-local up``).

Tests can make the next deliveries to a target fail (``fail_deliveries``) or hold status-change events
back (``pause_status_events``), to prove what happens when a delivery is lost.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.events.models import Rule
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.utilities.arns import parse_arn

from local_runtime import moto_hooks
from local_runtime.lambdas import InProcessLambdaRouter

STATUS_CHANGE = "Step Functions Execution Status Change"
_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
_BASE_BACKOFF_SECONDS = 1.0
_LAMBDA_ASYNC_RETRIES = 2  # Lambda retries a failed asynchronous invocation twice

_installed = False
_deliveries: list[threading.Thread] = []
_failures: dict[str, list[str]] = defaultdict(list)  # target ARN -> error codes for the next deliveries
_lock = threading.Lock()
_status_events_paused = threading.Event()
retry_wait_scale = 1.0


class DeliveryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def fail_deliveries(target_arn: str, times: int, code: str = "ThrottlingException") -> None:
    """Make the next ``times`` deliveries to ``target_arn`` fail (the service refusing the call)."""
    with _lock:
        _failures[target_arn].extend([code] * times)


def clear_failures() -> None:
    with _lock:
        _failures.clear()


def pause_status_events(paused: bool = True) -> None:
    """Hold back Step Functions' status-change events (lost events, for the sweeper's tests)."""
    if paused:
        _status_events_paused.set()
    else:
        _status_events_paused.clear()


def _injected_failure(target_arn: str) -> str | None:
    with _lock:
        pending = _failures.get(target_arn)
        return pending.pop(0) if pending else None


def _execution_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        node: Any = event
        for part in str(target["InputPath"]).removeprefix("$").strip(".").split("."):
            if part:
                node = node[part]
        return json.dumps(node)
    return json.dumps(event, default=str)


def _start_execution(target: dict[str, Any], event: dict[str, Any]) -> None:
    # EventBridge names executions itself; names must be unique per state machine.
    name = f"{event.get('id', 'event')}-{uuid.uuid4().hex[:8]}"[:80]
    moto_hooks.start_execution(target["Arn"], name, _execution_input(target, event))


def _invoke_function(target: dict[str, Any], event: dict[str, Any]) -> None:
    """An asynchronous invocation: accepted at once; a failing function is retried by Lambda itself."""
    function = InProcessLambdaRouter.get(parse_arn(target["Arn"]).resource_id.split(":", 1)[0])
    payload = json.loads(_execution_input(target, event))
    for attempt in range(_LAMBDA_ASYNC_RETRIES + 1):
        _, errored = function.invoke(payload)
        if not errored:
            return
        if attempt < _LAMBDA_ASYNC_RETRIES:
            time.sleep(60 * (attempt + 1) * retry_wait_scale)


def _deliver(target: dict[str, Any], event: dict[str, Any], rule_arn: str) -> None:
    """Deliver with the target's retry policy; when it is exhausted, to its dead-letter queue."""
    policy = target.get("RetryPolicy", {})
    retries = int(policy.get("MaximumRetryAttempts", 185))
    deliver = _start_execution if parse_arn(target["Arn"]).service == "states" else _invoke_function
    last: DeliveryError | None = None
    for attempt in range(retries + 1):
        code = _injected_failure(target["Arn"])
        try:
            if code is not None:
                raise DeliveryError(code, f"injected: the target refused the delivery ({code})")
            deliver(target, event)
            return
        except DeliveryError as exc:
            last = exc
        except Exception as exc:
            last = DeliveryError(type(exc).__name__, str(exc)[:256])
        if attempt < retries:
            time.sleep(min(_BASE_BACKOFF_SECONDS * 2**attempt, 60) * retry_wait_scale)
    dead_letter = target.get("DeadLetterConfig", {}).get("Arn")
    if dead_letter and last is not None:
        _send_dead_letter(dead_letter, event, rule_arn, target["Arn"], last)


def _send_dead_letter(
    queue_arn: str, event: dict[str, Any], rule_arn: str, target_arn: str, error: DeliveryError
) -> None:
    attributes = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": target_arn,
        "ERROR_CODE": error.code,
        "ERROR_MESSAGE": str(error)[:256],
    }
    moto_hooks.send_sqs_message(queue_arn, json.dumps(event, default=str), attributes)


def install() -> None:
    global _installed  # noqa: PLW0603 - one hook per process
    if _installed:
        return
    moto_hooks.wrap_rule_delivery(_delivering_our_targets)
    moto_hooks.wrap_execution_terminated(_publishing_status_change)
    _installed = True


def _delivering_our_targets(original: Callable[..., None]) -> Callable[..., None]:
    """moto's delivery for SQS, log group and bus targets; ours, asynchronously, for the rest."""

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        # A scheduled rule has no pattern (moto reads that as "match everything"): events never reach it.
        if getattr(self, "scheduled_expression", None) or not self.event_pattern.matches_event(
            original_event
        ):
            return
        ours = [t for t in self.targets if parse_arn(t["Arn"]).service in {"states", "lambda"}]
        others = [t for t in self.targets if t not in ours]
        if others:
            rest = copy.copy(self)
            rest.targets = others
            original(rest, original_event, transform_input)
        for target in ours:
            delivery = threading.Thread(
                target=_deliver, args=(target, copy.deepcopy(original_event), self.arn), daemon=True
            )
            delivery.start()
            _deliveries.append(delivery)

    return send_to_targets


def _publishing_status_change(
    original: Callable[[BaseExecutionWorkerCommunication], None],
) -> Callable[[BaseExecutionWorkerCommunication], None]:
    """moto's end-of-execution callback, then the status-change event Step Functions would publish."""

    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        original(self)
        account, region, detail = moto_hooks.execution_status_detail(self)
        if detail["status"] not in _TERMINAL or _status_events_paused.is_set():
            return
        moto_hooks.put_events(
            account,
            region,
            [
                {
                    "Source": "aws.states",
                    "DetailType": STATUS_CHANGE,
                    "Detail": json.dumps(detail),
                    "EventBusName": "default",
                }
            ],
        )

    return terminated


def wait_for_deliveries(timeout: float = 10.0) -> None:
    """Block until every event handed to a state machine or function has been delivered (or dead-lettered)."""
    deadline = time.monotonic() + timeout
    while _deliveries and time.monotonic() < deadline:
        _deliveries.pop().join(max(0.0, deadline - time.monotonic()))


class Schedules:
    """Scheduled rules of a stack: fired on demand, or every ``rate`` by ``run_forever``."""

    def __init__(self) -> None:
        self._rules: dict[
            str, tuple[str, list[dict[str, Any]], str]
        ] = {}  # logical id -> (rate, targets, arn)

    def add(self, logical_id: str, expression: str, targets: list[dict[str, Any]], rule_arn: str) -> None:
        self._rules[logical_id] = (expression, targets, rule_arn)

    def names(self) -> list[str]:
        return sorted(self._rules)

    def fire(self, logical_id: str) -> None:
        """Deliver the rule's scheduled event to its targets now, and wait for the deliveries."""
        _, targets, rule_arn = self._rules[logical_id]
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resources": [rule_arn],
            "detail": {},
        }
        for target in targets:
            _deliver(target, event, rule_arn)

    def run_forever(self, stop: threading.Event) -> None:
        """Fire every rule at its rate (``rate(N minutes)``) until ``stop`` is set."""
        due = {name: time.monotonic() + _rate_seconds(rate) for name, (rate, _, _) in self._rules.items()}
        while not stop.wait(1.0):
            for name, at in due.items():
                if time.monotonic() >= at:
                    self.fire(name)
                    due[name] = time.monotonic() + _rate_seconds(self._rules[name][0])


def _rate_seconds(expression: str) -> float:
    value, unit = expression.removeprefix("rate(").removesuffix(")").split()
    return (
        float(value)
        * {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}[unit]
    )
