"""A local stand-in for a Salesforce-style CRM REST endpoint, for the local runtime and tests.

It answers the two calls the CRM adapter makes, with Salesforce's documented semantics for sObject Rows
by External ID (REST API v60.0):

* ``PATCH {base}/services/data/v60.0/sobjects/Task/<ExternalIdField>/<value>`` upserts: no record with
  that external id → the task is created, 201 ``{"id", "success": true, "errors": [], "created": true}``;
  exactly one → it is updated, 200 ``{..., "created": false}`` (204 without a body in ``legacy_update``
  mode, as API versions before 46.0 answer); several → 300 with the matching records' URLs, nothing written;
  an unknown external id field → 404 ``NOT_FOUND``; the external id field in the body, or no Subject on a
  create → 400.
* ``GET`` on the same URL reads the record (``?fields=Id``): 200 ``{"attributes", "Id"}``, 404, or 300.

A bearer token is required (401 ``INVALID_SESSION_ID`` otherwise). Tests can make the next requests fail
with a status, answer slowly, or make the write and then stall, drop the connection or answer with a body
that is not JSON ("the write turns out to have happened"); it records every task it holds.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import unquote, urlsplit

SOBJECT_PATH = "/services/data/v60.0/sobjects/Task/"
DEFAULT_EXTERNAL_ID_FIELD = "Idempotency_Key__c"
_ERROR_BODIES = {
    401: [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    403: [{"message": "Insufficient access", "errorCode": "INSUFFICIENT_ACCESS"}],
    404: [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}],
    429: [{"message": "Request limit exceeded", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
}


class AfterWrite(StrEnum):
    """How an answer goes wrong *after* the write was made."""

    STALL = "stall"  # answer only after ``seconds`` (longer than the client waits)
    DROP = "drop"  # close the connection without answering
    NOT_JSON = "not-json"  # answer 201 with a body that is not JSON


@dataclass
class CreatedTask:
    task_id: str
    external_id: str
    body: dict[str, Any]
    updates: int = 0


@dataclass
class _Behaviour:
    failures: deque[int] = field(default_factory=deque)
    after_write: deque[tuple[AfterWrite, float]] = field(default_factory=deque)
    delay_seconds: float = 0.0


class CrmTestServer:
    """Thread-backed HTTP server on a free loopback port; ``base_url`` is the connector's instance URL."""

    def __init__(self, token: str, external_id_field: str = DEFAULT_EXTERNAL_ID_FIELD) -> None:
        self.token = token
        self.external_id_field = external_id_field
        self.tasks: list[CreatedTask] = []
        self.requests = 0  # every upsert and lookup the CRM received
        self.upserts = 0
        self.legacy_update = False  # answer an update with 204 and no body (API < 46.0)
        self.on_request: Callable[[str], None] | None = None  # called with the method, before answering
        self._behaviour = _Behaviour()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
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

    # ---------------------------------------------------------------- test controls
    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` upserts with ``status`` and write nothing."""
        with self._lock:
            self._behaviour.failures.extend([status] * times)

    def write_then(self, how: AfterWrite, seconds: float = 0.0, times: int = 1) -> None:
        """Make the next ``times`` upserts' writes, then answer badly (see AfterWrite)."""
        with self._lock:
            self._behaviour.after_write.extend([(how, seconds)] * times)

    def respond_slowly(self, seconds: float) -> None:
        with self._lock:
            self._behaviour.delay_seconds = seconds

    def add_duplicate(self, external_id: str) -> None:
        """Give a second record the same external id (someone else's data): upserts then answer 300."""
        with self._lock:
            self._create({"Subject": "created elsewhere"}, external_id)

    def reset(self) -> None:
        with self._lock:
            self._behaviour = _Behaviour()
            self.tasks.clear()
            self.requests = 0
            self.upserts = 0
            self.legacy_update = False
            self.on_request = None

    def tasks_with(self, external_id: str) -> list[CreatedTask]:
        with self._lock:
            return [t for t in self.tasks if t.external_id == external_id]

    # ---------------------------------------------------------------- the CRM
    def _create(self, body: dict[str, Any], external_id: str) -> CreatedTask:
        task = CreatedTask(f"00T{len(self.tasks) + 1:015d}", external_id, dict(body))
        self.tasks.append(task)
        return task

    def _upsert(self, external_id: str, body: dict[str, Any]) -> tuple[int, Any, CreatedTask | None]:
        with self._lock:
            matches = [t for t in self.tasks if t.external_id == external_id]
            if len(matches) > 1:
                return 300, [f"{SOBJECT_PATH}{t.task_id}" for t in matches], None
            if matches:
                task = matches[0]
                task.body.update(body)
                task.updates += 1
                if self.legacy_update:
                    return 204, None, task
                return 200, {"id": task.task_id, "success": True, "errors": [], "created": False}, task
            if not body.get("Subject"):
                return (
                    400,
                    [
                        {
                            "message": "Required fields are missing: [Subject]",
                            "errorCode": "REQUIRED_FIELD_MISSING",
                        }
                    ],
                    None,
                )
            task = self._create(body, external_id)
            return 201, {"id": task.task_id, "success": True, "errors": [], "created": True}, task

    def _lookup(self, external_id: str) -> tuple[int, Any]:
        with self._lock:
            matches = [t for t in self.tasks if t.external_id == external_id]
        if len(matches) > 1:
            return 300, [f"{SOBJECT_PATH}{t.task_id}" for t in matches]
        if not matches:
            return 404, _ERROR_BODIES[404]
        task = matches[0]
        return 200, {
            "attributes": {"type": "Task", "url": f"{SOBJECT_PATH}{task.task_id}"},
            "Id": task.task_id,
        }

    def _next(self, upsert: bool) -> tuple[int | None, tuple[AfterWrite, float] | None, float]:
        with self._lock:
            self.requests += 1
            behaviour = self._behaviour
            if not upsert:
                return None, None, behaviour.delay_seconds
            self.upserts += 1
            failure = behaviour.failures.popleft() if behaviour.failures else None
            after = behaviour.after_write.popleft() if failure is None and behaviour.after_write else None
            return failure, after, behaviour.delay_seconds

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """The request handler bound to this server (http.server builds one handler per request)."""
        return type("CrmHandler", (_CrmRequestHandler,), {"crm": self})


class _CrmRequestHandler(BaseHTTPRequestHandler):
    """Salesforce's Task upsert and lookup by external id, answered from the owning CrmTestServer."""

    crm: CrmTestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read the recorded tasks, not an access log."""

    def _reply(self, status: int, body: Any = None, raw: bytes | None = None) -> None:
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _external_id(self) -> str | None:
        path = urlsplit(self.path).path
        if not path.startswith(SOBJECT_PATH):
            return None
        parts = path[len(SOBJECT_PATH) :].split("/")
        if len(parts) != 2 or parts[0] != self.crm.external_id_field or not parts[1]:
            return None
        return unquote(parts[1])

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.crm.token}"

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_PATCH(self) -> None:
        try:
            body = self._body()
        except json.JSONDecodeError:
            self._reply(400, [{"message": "Malformed JSON", "errorCode": "JSON_PARSER_ERROR"}])
            return
        if self.crm.on_request is not None:
            self.crm.on_request("PATCH")
        failure, after, delay = self.crm._next(upsert=True)
        if delay:
            time.sleep(delay)
        if failure is not None:
            self._reply(
                failure,
                _ERROR_BODIES.get(failure, [{"message": "Server error", "errorCode": "SERVER_ERROR"}]),
            )
            return
        if not self._authorized():
            self._reply(401, _ERROR_BODIES[401])
            return
        external_id = self._external_id()
        if external_id is None:
            self._reply(404, _ERROR_BODIES[404])
            return
        if not isinstance(body, dict) or self.crm.external_id_field in body:
            self._reply(400, [{"message": "Invalid body", "errorCode": "INVALID_FIELD"}])
            return
        status, answer, _ = self.crm._upsert(external_id, body)
        self._misbehave_or_reply(after, status, answer)

    def _misbehave_or_reply(self, after: tuple[AfterWrite, float] | None, status: int, answer: Any) -> None:
        if after is None:
            self._reply(status, answer)
            return
        how, seconds = after
        if how is AfterWrite.STALL:
            time.sleep(seconds)
            self._reply(status, answer)
        elif how is AfterWrite.DROP:
            self.close_connection = True
            self.connection.close()
        else:
            self._reply(201, raw=b"<html>Created</html>")

    def do_GET(self) -> None:
        if self.crm.on_request is not None:
            self.crm.on_request("GET")
        _, _, delay = self.crm._next(upsert=False)
        if delay:
            time.sleep(delay)
        if not self._authorized():
            self._reply(401, _ERROR_BODIES[401])
            return
        external_id = self._external_id()
        if external_id is None:
            self._reply(404, _ERROR_BODIES[404])
            return
        status, answer = self.crm._lookup(external_id)
        self._reply(status, answer)
