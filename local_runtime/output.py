"""Per-invocation capture of what a function prints (its JSON logs and EMF metric lines).

In Lambda each invocation's stdout goes to its own log stream. Here all functions share one process,
so sys.stdout is replaced by a router: writes from a thread running an invocation are kept for that
invocation (and still echoed to the real stdout). Loggers that bound sys.stdout at import time bind the
router, because it is installed before any handler module is imported.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class RoutedStdout(io.TextIOBase):
    def __init__(self, fallback: TextIO) -> None:
        self._fallback = fallback
        self._local = threading.local()
        self.divert: TextIO | None = None

    def write(self, text: str) -> int:
        sink: list[str] | None = getattr(self._local, "sink", None)
        if sink is not None:
            sink.append(text)
            if self.divert is not None:  # invocation output kept off the console (the demo's table)
                try:
                    return self.divert.write(text)
                except ValueError:  # the log file was closed (a late line after its command ended)
                    return len(text)
        try:
            return self._fallback.write(text)
        except ValueError:  # the stream we echoed to was closed (a finished test's capture)
            self._fallback = sys.__stdout__ or self._fallback
            return len(text)

    def echo_to(self, stream: TextIO) -> None:
        self._fallback = stream

    def flush(self) -> None:
        self._fallback.flush()

    def isatty(self) -> bool:
        return self._fallback.isatty()

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        """Keep this thread's writes (one invocation) in the yielded list."""
        sink: list[str] = []
        self._local.sink = sink
        try:
            yield sink
        finally:
            self._local.sink = None


_ROUTER: RoutedStdout | None = None


def router() -> RoutedStdout:
    """The process's one stdout router, (re)installed as sys.stdout whenever someone replaced it.

    One instance for the whole process: loggers keep the stream they bound at import, so a second router
    would leave them writing where no invocation is captured. When sys.stdout was replaced (a test
    runner's capture, say), the router adopts the new stream as the place it echoes to.
    """
    global _ROUTER  # noqa: PLW0603 - process-wide by nature
    if _ROUTER is None:
        _ROUTER = RoutedStdout(sys.stdout)
    if sys.stdout is not _ROUTER:
        _ROUTER.echo_to(sys.stdout)
        sys.stdout = _ROUTER
    return _ROUTER


@contextmanager
def functions_logging_to(path: Path) -> Iterator[Path]:
    """The functions' log and metric lines go to ``path`` (truncated first) while the block runs.

    Never spliced into what the command itself prints; line-buffered, so `tail -f` follows it. Stop the
    runtime inside the block, so that nothing an invocation prints late reaches the console.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    routed = router()
    previous = routed.divert
    with path.open("w", encoding="utf-8", buffering=1) as log:
        routed.divert = log
        try:
            yield path
        finally:
            routed.divert = previous
