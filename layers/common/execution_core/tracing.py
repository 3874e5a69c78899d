"""X-Ray tracing through Powertools' Tracer, loaded only when tracing is on (ADR 0014).

Powertools' ``Tracer()`` imports ``aws_xray_sdk`` even when it ends up disabled, so the decision comes
first, here, from the signals Powertools itself uses: ``POWERTOOLS_TRACE_DISABLED``, and running outside
Lambda (no ``LAMBDA_TASK_ROOT``) or under SAM local. A handler with tracing off never imports the SDK and
every call below is a no-op. The local runtime sets POWERTOOLS_TRACE_DISABLED=true (no X-Ray daemon).

Subsegments mark what X-Ray cannot see by itself (the effect, the CRM's HTTP call, the recorder's
transaction); annotations are indexed, searchable keys: tenant, action type, outcome, never a payload
or a secret. One tracer per process, like Powertools' (its configuration is class-level).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

_TRUTHY = {"1", "true", "yes", "on", "y", "t"}
# What the functions call out through: boto3 (AWS) and http.client (urllib3: the CRM, a remote node with
# its URL and status). Patching all of the SDK's libraries would import each one installed (sqlite3, ...).
PATCHED = ("botocore", "httplib")
# botocore's own connections: their calls already have a botocore subsegment, not a second one.
_AWS_CONNECTIONS = ("botocore.awsrequest.AWSHTTPConnection", "botocore.awsrequest.AWSHTTPSConnection")
_ANNOTATION_KEY = re.compile(r"^[A-Za-z0-9_]{1,500}$")  # X-Ray's rule: letters, digits, underscores


def tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether Powertools' Tracer would trace here (it disables itself in exactly these cases)."""
    env = os.environ if environ is None else environ
    if env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUTHY:
        return False
    emulated = env.get("AWS_SAM_LOCAL") or env.get("AWS_CHALICE_CLI_MODE")
    return bool(env.get("LAMBDA_TASK_ROOT")) and not emulated


class Tracing:
    """The handler's tracer, or nothing: both answer the same calls."""

    def __init__(self, tracer: Any | None = None) -> None:
        self._tracer = tracer

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def handler[F: Callable[..., Any]](self, function: F) -> F:
        """Powertools' ``capture_lambda_handler`` (cold-start annotation, handler subsegment) when on."""
        if self._tracer is None:
            return function
        return self._tracer.capture_lambda_handler(function)  # type: ignore[no-any-return]

    @contextmanager
    def subsegment(self, name: str, **annotations: str | int | bool | None) -> Iterator[None]:
        if self._tracer is None:
            yield
            return
        with self._tracer.provider.in_subsegment(name) as subsegment:
            for key, value in annotations.items():
                if value is not None and _ANNOTATION_KEY.match(key):
                    subsegment.put_annotation(key, value)
            yield


_ACTIVE = {"tracing": Tracing()}


def start_tracing(environ: Mapping[str, str] | None = None) -> Tracing:
    """Called once per handler module: a real Tracer (patching botocore and http.client) when on."""
    if not tracing_enabled(environ):
        _ACTIVE["tracing"] = Tracing()
    else:
        from aws_lambda_powertools import Tracer  # imported only when tracing is on
        from aws_xray_sdk.ext.httplib import add_ignored

        _ACTIVE["tracing"] = Tracing(Tracer(patch_modules=PATCHED))
        for connection in _AWS_CONNECTIONS:
            add_ignored(subclass=connection)
    return _ACTIVE["tracing"]


@contextmanager
def subsegment(name: str, **annotations: str | int | bool | None) -> Iterator[None]:
    """A subsegment of the active tracer (a no-op without one), for the shared package's services."""
    with _ACTIVE["tracing"].subsegment(name, **annotations):
        yield
