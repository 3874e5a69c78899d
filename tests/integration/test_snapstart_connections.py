"""SnapStart's before-snapshot hook closes every client's pool; a closed client must still answer its next
call (split from tests/unit/test_snapstart.py: this one calls a local HTTP server through botocore, which the
unit tier refuses)."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

import pytest

from execution_core.aws import aws_client, created_clients


class _ListTables(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"TableNames": ["table-1"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_closed_client_opens_a_new_connection_on_its_next_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # What the before-snapshot hook does to every client must not break the restored handler's calls.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ListTables)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "k",
            "AWS_SECRET_ACCESS_KEY": "s",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
        client = aws_client("dynamodb")
        assert client in created_clients()
        assert client.list_tables()["TableNames"] == ["table-1"]
        client.close()
        assert client.list_tables()["TableNames"] == ["table-1"]
    finally:
        server.shutdown()
        server.server_close()
