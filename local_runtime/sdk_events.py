"""Every AWS SDK call a handler makes, seen through botocore's event system: counted, and faultable.

Handlers build their clients at import (a cold start) from boto3's default session, and botocore gives
each new client a copy of that session's event hooks. So the hooks are registered on the default session
once, before any handler is imported (``install``), and every client any handler builds inherits them;
no handler code changes. The local Lambda router marks which invocation is running on the current thread
(``invocation``); calls outside an invocation (the emulator's own Step Functions interpreter, tests,
tools) are neither counted nor faulted.

Faults (the crash matrix of docs/architecture.md §6.2) hit the N-th SDK call of the first invocation of a
function that reaches it, one of four ways:

* ``TRANSIENT_BEFORE``: a connection error before the request is sent (nothing reached AWS);
* ``TRANSIENT_AFTER``: the request was answered (a write happened), then the answer is lost (read timeout);
* ``CRASH_BEFORE`` / ``CRASH_AFTER``: the process dies before sending / right after the answer. Nothing
  after it leaves the process: every later SDK call of that invocation dies too, and the invocation ends
  with ``Runtime.ExitError`` as Lambda reports a crashed runtime.
"""

from __future__ import annotations

import contextvars
import math
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import boto3
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

FAULT_ENDPOINT = "https://local-runtime.fault-injection"


class FaultKind(StrEnum):
    TRANSIENT_BEFORE = "transient-before"
    TRANSIENT_AFTER = "transient-after"
    CRASH_BEFORE = "crash-before"
    CRASH_AFTER = "crash-after"

    @property
    def crashes(self) -> bool:
        return self in (FaultKind.CRASH_BEFORE, FaultKind.CRASH_AFTER)

    @property
    def before(self) -> bool:
        return self in (FaultKind.TRANSIENT_BEFORE, FaultKind.CRASH_BEFORE)


class SimulatedCrashError(BaseException):
    """The process running the handler died (a BaseException, so ``except Exception`` cannot swallow it)."""


@dataclass(frozen=True)
class SdkCall:
    function: str  # the local function's logical id
    service: str
    operation: str
    params: dict[str, Any]


@dataclass
class Invocation:
    """One running invocation of a local function, on the thread that runs its handler."""

    function: str
    calls: int = 0
    crashed: bool = False
    _fault_after: FaultKind | None = None


@dataclass
class FaultPlan:
    function: str
    call: int  # 1-based index of the SDK call inside one invocation
    kind: FaultKind
    fired: bool = False


_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("local_invocation", default=None)


@contextmanager
def invocation(function: str) -> Iterator[Invocation]:
    """Mark the current thread as running one invocation of ``function``."""
    current = Invocation(function)
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


@dataclass
class SdkObserver:
    """Process-wide: what handlers called, and the fault planned for the next run."""

    calls: list[SdkCall] = field(default_factory=list)
    _faults: list[FaultPlan] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _installed_on: int | None = None

    def install(self) -> None:
        """Register on boto3's default session; clients created afterwards inherit the hooks."""
        session = boto3._get_default_session()  # the session boto3.client() uses
        if self._installed_on == id(session):
            return
        session.events.register(
            "before-parameter-build", self._before_call, unique_id="local-runtime-sdk-before"
        )
        session.events.register("after-call", self._after_call, unique_id="local-runtime-sdk-after")
        self._installed_on = id(session)

    # ------------------------------------------------------------------ planning and reading
    def plan(self, function: str, call: int, kind: FaultKind) -> FaultPlan:
        fault = FaultPlan(function, call, kind)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(self, mark: int) -> list[SdkCall]:
        with self._lock:
            return list(self.calls[mark:])

    def counts(self, mark: int = 0) -> Counter[tuple[str, str]]:
        return Counter((c.function, c.service) for c in self.since(mark))

    # ------------------------------------------------------------------ botocore hooks
    def _before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        current = _current.get()
        if current is None:
            return
        if current.crashed:  # the process is gone: nothing more leaves it
            raise SimulatedCrashError("the process already crashed")
        current.calls += 1
        service = model.service_model.service_name
        with self._lock:
            self.calls.append(SdkCall(current.function, service, model.name, dict(params)))
            fault = next(
                (
                    f
                    for f in self._faults
                    if not f.fired and f.function == current.function and f.call == current.calls
                ),
                None,
            )
            if fault is not None:
                fault.fired = True
        if fault is None:
            return
        if fault.kind is FaultKind.TRANSIENT_BEFORE:
            raise EndpointConnectionError(endpoint_url=FAULT_ENDPOINT)
        if fault.kind is FaultKind.CRASH_BEFORE:
            current.crashed = True
            raise SimulatedCrashError(f"crashed before {service}.{model.name}")
        current._fault_after = fault.kind

    def _after_call(self, model: Any, **_: Any) -> None:
        current = _current.get()
        if current is None or current._fault_after is None:
            return
        kind, current._fault_after = current._fault_after, None
        if kind is FaultKind.CRASH_AFTER:
            current.crashed = True
            raise SimulatedCrashError(f"crashed after {model.service_model.service_name}.{model.name}")
        raise ReadTimeoutError(endpoint_url=FAULT_ENDPOINT)


OBSERVER = SdkObserver()


# ---------------------------------------------------------------- DynamoDB capacity, for cost figures
def _item_kb(item: Any) -> float:
    return len(repr(item).encode()) / 1024


def dynamodb_capacity(call: SdkCall) -> tuple[float, float]:
    """(write units, read units) a DynamoDB call consumes on demand, estimated from its request.

    Items are sized by their request representation (close to DynamoDB's attribute-name-plus-value size);
    writes bill 1 unit per started KB, strongly consistent reads 1 per 4 KB (eventual ones half), and
    transactions twice that (ConditionCheck included).
    """
    params = call.params
    op = call.operation
    if op in ("PutItem", "UpdateItem", "DeleteItem"):
        return float(max(1, math.ceil(_item_kb(params.get("Item") or params.get("Key"))))), 0.0
    if op == "TransactWriteItems":
        units = 0.0
        for entry in params.get("TransactItems", []):
            (body,) = entry.values()
            units += 2 * max(1, math.ceil(_item_kb(body.get("Item") or body.get("Key"))))
        return units, 0.0
    if op == "GetItem":
        return 0.0, 1.0 if params.get("ConsistentRead") else 0.5
    if op == "BatchGetItem":
        reads = 0.0
        for table in params.get("RequestItems", {}).values():
            reads += len(table.get("Keys", [])) * (1.0 if table.get("ConsistentRead") else 0.5)
        return 0.0, reads
    if op == "Query":
        return 0.0, 1.0 if params.get("ConsistentRead") else 0.5
    return 0.0, 0.0
