"""Tracing in a fresh interpreter, as Lambda runs it: the X-Ray SDK imported only with tracing on, and a real
Tracer's subsegments sent to a local UDP daemon with annotations and no payload (split from
tests/unit/test_tracing.py: these start processes and open sockets, which the unit tier refuses)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from local_runtime.template import PROJECT_ROOT

_PROBE = """
import json, os, sys
from execution_core.tracing import start_tracing
on = start_tracing()
libraries = ("botocore", "httplib", "sqlite3", "requests")
patched = sorted(m for m in libraries if f"aws_xray_sdk.ext.{m}.patch" in sys.modules)
ignored = []
if on.enabled:
    from aws_xray_sdk.ext.httplib.patch import _XRAY_IGNORE
    ignored = sorted(rule.subclass for rule in _XRAY_IGNORE if not rule.urls and not rule.hostname)
xray = "aws_xray_sdk" in sys.modules
print(json.dumps({"enabled": on.enabled, "xray": xray, "patched": patched, "ignored": ignored}))
"""


@pytest.mark.parametrize(("disabled", "expected"), [("true", False), ("false", True)])
def test_the_xray_sdk_is_imported_only_when_tracing_is_on(disabled: str, expected: bool) -> None:
    # A fresh interpreter: a real Tracer patches botocore and http.client process-wide.
    env = {
        "PYTHONPATH": str(PROJECT_ROOT / "layers" / "common"),
        "LAMBDA_TASK_ROOT": "/var/task",
        "POWERTOOLS_TRACE_DISABLED": disabled,
        "POWERTOOLS_SERVICE_NAME": "probe",
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    patched = ["botocore", "httplib"] if expected else []  # only what the functions call out through
    # http.client traces the CRM, not botocore's own connections (those have their botocore subsegment)
    aws = ["botocore.awsrequest.AWSHTTPConnection", "botocore.awsrequest.AWSHTTPSConnection"]
    ignored = aws if expected else []
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe == {"enabled": expected, "xray": expected, "patched": patched, "ignored": ignored}
    assert result.stderr == ""  # no X-Ray daemon here: starting the SDK must not complain


_EMIT = """
import json, os, socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.settimeout(10)
os.environ["AWS_XRAY_DAEMON_ADDRESS"] = "127.0.0.1:%d" % sock.getsockname()[1]
from execution_core.tracing import start_tracing, subsegment
tracing = start_tracing()

@tracing.handler
def handler(event, context):
    with subsegment("recorder.transaction", tenant_id="t-1", action_type="crm.create_task", outcome=None):
        return {"secret": "payload"}

handler({}, None)
documents = []
while not any(d.get("name") == "## handler" for d in documents):
    documents.append(json.loads(sock.recv(65536).decode().split("\\n", 1)[1]))
print(json.dumps(documents))
"""


def test_a_real_tracer_sends_annotated_subsegments_and_no_payload() -> None:
    # The X-Ray SDK as Lambda runs it (trace header set), its daemon replaced by a local UDP socket.
    env = {
        "PYTHONPATH": str(PROJECT_ROOT / "layers" / "common"),
        "LAMBDA_TASK_ROOT": "/var/task",
        "POWERTOOLS_SERVICE_NAME": "probe",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",  # as the template's Globals set it
        "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _EMIT], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    documents = {d["name"]: d for d in json.loads(result.stdout.strip().splitlines()[-1])}
    transaction = documents["recorder.transaction"]
    assert transaction["annotations"] == {"tenant_id": "t-1", "action_type": "crm.create_task"}
    assert transaction["parent_id"] == documents["## handler"]["id"]
    assert documents["## handler"]["annotations"] == {"ColdStart": True, "Service": "probe"}
    assert "payload" not in result.stdout
