"""EventBridge → Step Functions delivery for the emulator.

moto's EventBridge delivers to SQS, log groups and buses but raises NotImplementedError for a Step
Functions target. This wraps the rule's (private, hence pinned and tested) `send_to_targets`: state
machine targets start an execution asynchronously, as EventBridge does; other targets go to moto.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

from moto.events.models import Rule
from moto.stepfunctions.responses import get_backend
from moto.utilities.arns import parse_arn

_installed = False
_deliveries: list[threading.Thread] = []


def _execution_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        node: Any = event
        for part in str(target["InputPath"]).removeprefix("$").strip(".").split("."):
            if part:
                node = node[part]
        return json.dumps(node)
    return json.dumps(event)


def _start_execution(target: dict[str, Any], event: dict[str, Any]) -> None:
    arn = parse_arn(target["Arn"])
    backend = get_backend(arn.account, arn.region)  # the executing backend when execution is enabled
    # EventBridge names executions itself; names must be unique per state machine.
    name = f"{event.get('id', 'event')}-{uuid.uuid4().hex[:8]}"[:80]
    backend.start_execution(target["Arn"], name=name, execution_input=_execution_input(target, event))


def install() -> None:
    global _installed  # noqa: PLW0603 - one hook per process
    if _installed:
        return
    original: Callable[..., None] = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        machines = [t for t in self.targets if parse_arn(t["Arn"]).service == "states"]
        others = [t for t in self.targets if t not in machines]
        if others:
            rest = copy.copy(self)
            rest.targets = others
            original(rest, original_event, transform_input)
        for target in machines:
            delivery = threading.Thread(
                target=_start_execution, args=(target, copy.deepcopy(original_event)), daemon=True
            )
            delivery.start()
            _deliveries.append(delivery)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
    _installed = True


def wait_for_deliveries(timeout: float = 10.0) -> None:
    """Block until every event handed to a state machine has started its execution."""
    while _deliveries:
        _deliveries.pop().join(timeout)
