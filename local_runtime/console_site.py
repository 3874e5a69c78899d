"""What the local API server adds for the operator console (console/): its files, its config and sign-in.

A deployed console talks to two services: the status API and Cognito's IdP JSON API
(``https://cognito-idp.{region}.amazonaws.com/``), where it signs in with USER_SRP_AUTH as any front-end
would, without AWS credentials. Locally both are the API server's origin: ``/console/`` serves the static
files, ``/console/config.json`` says where the API and Cognito are, and ``POST /cognito-idp/`` passes the
two unauthenticated calls a sign-in needs (InitiateAuth with a user flow, RespondToAuthChallenge) to the
emulator's Cognito. Nothing else of the IdP API is reachable there: no administrator call, no sign-up.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from local_runtime.emulator import LocalStack
from local_runtime.template import PROJECT_ROOT

CONSOLE_DIR = PROJECT_ROOT / "console"
CONSOLE_PREFIX = "/console/"
COGNITO_PATH = "/cognito-idp/"
_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
# The calls a user sign-in makes, and the flows the app client allows a user (never an admin flow).
_SIGN_IN_CALLS = {"InitiateAuth": "initiate_auth", "RespondToAuthChallenge": "respond_to_auth_challenge"}
_USER_AUTH_FLOWS = frozenset({"USER_SRP_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"})
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json"}
# The console runs only its own scripts and styles and talks only to its origin (the local API and the
# Cognito pass-through); README "Operator console" shows the deployed policy, which adds the API and Cognito.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Response = tuple[int, dict[str, str], bytes]


def console_config(stack: LocalStack, api_url: str) -> dict[str, str]:
    """The console's config.json for a local stack; a deployed one is made from the stack's outputs."""
    outputs = stack.outputs()
    return {
        "region": stack.region,
        "user_pool_id": outputs["UserPoolId"],
        "client_id": outputs["UserPoolClientId"],
        "api_base_url": api_url,
        "cognito_endpoint": f"{api_url}{COGNITO_PATH}",
    }


# Cognito's IdP endpoint answers browsers of any origin (its calls carry no credentials of the origin);
# so does the pass-through, so that a front-end on another origin signs in as it would against AWS.
_IDP_CORS = {"Access-Control-Allow-Origin": "*"}
_IDP_PREFLIGHT = {
    **_IDP_CORS,
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "content-type, x-amz-target, x-amz-user-agent",
    "Access-Control-Max-Age": "300",
}


def _json(status: int, document: Mapping[str, Any]) -> Response:
    headers = {"Content-Type": "application/x-amz-json-1.1", **_IDP_CORS}
    return status, headers, json.dumps(document).encode()


def _idp_error(status: int, error_type: str, message: str) -> Response:
    """An error as Cognito's JSON API answers it (``__type`` and ``message``)."""
    return _json(status, {"__type": error_type, "message": message})


@dataclass
class ConsoleSite:
    """The console's routes on the local API server (see the module docstring)."""

    stack: LocalStack
    api_url: str
    directory: Path = CONSOLE_DIR
    _cognito: Any = field(default=None, repr=False)

    @staticmethod
    def serves(path: str) -> bool:
        return path in {"/console", COGNITO_PATH.rstrip("/"), COGNITO_PATH} or path.startswith(CONSOLE_PREFIX)

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes | None) -> Response:
        if path.startswith(COGNITO_PATH.rstrip("/")):
            return self._sign_in_call(method, headers, body)
        if method not in {"GET", "HEAD"}:
            return 405, {"Allow": "GET, HEAD", "Content-Type": "text/plain"}, b"Method Not Allowed"
        if path == "/console":
            return 308, {"Location": CONSOLE_PREFIX, "Content-Length": "0"}, b""
        name = path.removeprefix(CONSOLE_PREFIX) or "index.html"
        if name == "config.json":
            config = console_config(self.stack, self.api_url)
            return 200, {"Content-Type": "application/json", **_SECURITY_HEADERS}, json.dumps(config).encode()
        return self._static(name)

    def _static(self, name: str) -> Response:
        """A file directly in the console folder, nothing else (no sub-paths, no dot files)."""
        not_found = (404, {"Content-Type": "text/plain"}, b"Not Found")
        if "/" in name or "\\" in name or name.startswith("."):
            return not_found
        file = self.directory / name
        if not file.is_file():
            return not_found
        content_type = (
            _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        )
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        return 200, {"Content-Type": content_type, **_SECURITY_HEADERS}, file.read_bytes()

    def _sign_in_call(self, method: str, headers: Mapping[str, str], body: bytes | None) -> Response:
        if method == "OPTIONS":
            return 204, dict(_IDP_PREFLIGHT), b""
        try:
            operation, request = _sign_in_request(method, headers, body)
        except _RefusedError as refused:
            return refused.response
        if self._cognito is None:
            self._cognito = self.stack.client("cognito-idp")
        try:
            result = dict(getattr(self._cognito, operation)(**request))
        except ParamValidationError as exc:
            return _idp_error(400, "InvalidParameterException", str(exc).splitlines()[0])
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
            return _idp_error(status, str(error.get("Code", "UnknownError")), str(error.get("Message", "")))
        result.pop("ResponseMetadata", None)
        return _json(200, result)


class _RefusedError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.response = _idp_error(status, error_type, message)


def _sign_in_request(
    method: str, headers: Mapping[str, str], body: bytes | None
) -> tuple[str, dict[str, Any]]:
    """(boto3 operation, parameters) of an allowed sign-in call; _RefusedError for anything else."""
    if method != "POST":
        raise _RefusedError(405, "InvalidParameterException", "only POST is served here")
    target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
    name = target.removeprefix(_TARGET_PREFIX) if target.startswith(_TARGET_PREFIX) else ""
    operation = _SIGN_IN_CALLS.get(name)
    if operation is None:
        raise _RefusedError(400, "UnknownOperationException", "only InitiateAuth, RespondToAuthChallenge")
    try:
        request = json.loads(body or b"")
    except ValueError:
        raise _RefusedError(400, "SerializationException", "the body is not JSON") from None
    if not isinstance(request, dict):
        raise _RefusedError(400, "SerializationException", "the body is not a JSON object")
    if operation == "initiate_auth" and request.get("AuthFlow") not in _USER_AUTH_FLOWS:
        raise _RefusedError(400, "InvalidParameterException", "only user sign-in flows are served here")
    return operation, request
