"""Counts the AWS requests the emulator serves, by service: what an execution would be billed for."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
HARNESS_USER_AGENT = "local-runtime-harness"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RequestMeter:
    """WSGI middleware: the signing scope of each request names its service."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        harness = HARNESS_USER_AGENT in environ.get("HTTP_USER_AGENT", "")
        # Unsigned requests are the emulator's control API; harness requests are tests and tools
        # looking on, not the system under measurement.
        if match is not None and not harness:
            with self._lock:
                self.counts[match.group(1)] += 1
        return self._app(environ, start_response)

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)
