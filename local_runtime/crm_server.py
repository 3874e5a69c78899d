"""A local stand-in for a Salesforce-style CRM REST endpoint, for the local runtime and tests.

POST {base}/services/data/v60.0/sobjects/Task/ with a bearer token and a JSON body (Subject required)
creates a task and answers 201 {"id", "success": true, "errors": []}, as Salesforce does. It can be told
to fail the next requests (401, 429, 500, ...) or to answer slowly, and it records what it created.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

TASK_PATH = "/services/data/v60.0/sobjects/Task/"
_ERROR_BODIES = {
    401: [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    403: [{"message": "Insufficient access", "errorCode": "INSUFFICIENT_ACCESS"}],
    429: [{"message": "Request limit exceeded", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
}


@dataclass(frozen=True)
class CreatedTask:
    task_id: str
    body: dict[str, Any]


class CrmTestServer:
    """Thread-backed HTTP server on a free loopback port; `base_url` is the connector's instance URL."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.tasks: list[CreatedTask] = []
        self.requests = 0
        self._failures: deque[int] = deque()
        self._delay_seconds = 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="crm-test-server"
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next `times` task requests with `status` instead of creating a task."""
        with self._lock:
            self._failures.extend([status] * times)

    def respond_slowly(self, seconds: float) -> None:
        with self._lock:
            self._delay_seconds = seconds

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._delay_seconds = 0.0
            self.tasks.clear()
            self.requests = 0

    def _next_behaviour(self) -> tuple[int | None, float]:
        with self._lock:
            self.requests += 1
            return (self._failures.popleft() if self._failures else None), self._delay_seconds

    def _record(self, body: dict[str, Any]) -> str:
        with self._lock:
            task_id = f"00T{len(self.tasks) + 1:015d}"
            self.tasks.append(CreatedTask(task_id, body))
            return task_id

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Silent: tests read the recorded tasks, not an access log."""

            def _reply(self, status: int, body: Any) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                if self.path != TASK_PATH:
                    self._reply(404, [{"message": "Not found", "errorCode": "NOT_FOUND"}])
                    return
                failure, delay = server._next_behaviour()
                if delay:
                    time.sleep(delay)
                if failure is not None:
                    body = _ERROR_BODIES.get(
                        failure, [{"message": "Server error", "errorCode": "SERVER_ERROR"}]
                    )
                    self._reply(failure, body)
                    return
                if self.headers.get("Authorization") != f"Bearer {server.token}":
                    self._reply(401, _ERROR_BODIES[401])
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._reply(400, [{"message": "Malformed JSON", "errorCode": "JSON_PARSER_ERROR"}])
                    return
                if not isinstance(body, dict) or not body.get("Subject"):
                    self._reply(
                        400,
                        [
                            {
                                "message": "Required fields are missing: [Subject]",
                                "errorCode": "REQUIRED_FIELD_MISSING",
                            }
                        ],
                    )
                    return
                self._reply(201, {"id": server._record(body), "success": True, "errors": []})

        return Handler
