"""Scales the waits between Step Functions retries in the emulator, so fault tests run in seconds.

moto's ASL interpreter sleeps the full ``IntervalSeconds`` (with backoff) between retries, in
``retrier_decl`` (a private module: moto is pinned, the hook is ``moto_hooks.set_retry_clock`` and
tests/local_runtime/test_moto_hooks.py guards it). The real definition is executed unchanged; only the
clock the interpreter waits on is faster.
Task and execution timeouts are not scaled.
"""

from __future__ import annotations

import time
from typing import Any

from local_runtime import moto_hooks


class ScaledTime:
    """Stands in for the ``time`` module inside retrier_decl: ``sleep`` is scaled, the rest delegated."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def install(scale: float) -> None:
    if not 0 < scale <= 1:
        raise ValueError("the retry wait scale is a fraction in (0, 1]")
    moto_hooks.set_retry_clock(ScaledTime(scale))


def current_scale() -> float:
    clock = moto_hooks.retry_clock()
    return clock.scale if isinstance(clock, ScaledTime) else 1.0
