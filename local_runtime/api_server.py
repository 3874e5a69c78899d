"""The local API server: the `sam local start-api` equivalent, without Docker and with the Cognito check.

Everything comes from the translated template, nothing is hard-coded: the routes, their Lambda
integrations and authorizers are read from the Swagger body SAM generates for each
``AWS::ApiGateway::RestApi``; the stage name from its ``AWS::ApiGateway::Stage``; the error responses
API Gateway would produce itself from the body's ``x-amazon-apigateway-gateway-responses``.

For a route with a Cognito user pool authorizer the server does what the authorizer does before the
function ever runs: it takes the ID token from the identity header, checks its RS256 signature against
the pool's JWKS (served by the emulator at ``{endpoint}/{pool_id}/.well-known/jwks.json``), the issuer
(``https://cognito-idp.{region}.amazonaws.com/{pool_id}``), the audience (an app client of the pool),
the expiry and ``token_use == "id"``, and answers 401 itself when any check fails. Verified claims go
into ``requestContext.authorizer.claims`` of an API Gateway REST proxy event, which is sent to the
function through the emulator's Lambda API, so the handler runs in-process with its template environment
(local_runtime.lambdas).

The server also hosts the operator console (console/) at ``/console/`` with the two Cognito calls its
sign-in needs at ``/cognito-idp/`` (local_runtime.console_site): API Gateway does not serve them, a
static host and Cognito itself do when the stack is deployed.

Not emulated: stage throttling, access logs, request validation, API keys, usage plans.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
import requests

from local_runtime.console_site import ConsoleSite
from local_runtime.emulator import ACCOUNT_ID, LocalStack

_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_ANY_METHOD = "x-amazon-apigateway-any-method"
_INTEGRATION_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[^:]+:lambda:path/[^/]+/functions/(?P<fn>.+)/invocations$"
)
_CLAIM_TIME_FORMAT = "%a %b %d %H:%M:%S UTC %Y"  # how API Gateway renders numeric date claims
_TIME_CLAIMS = frozenset({"exp", "iat", "auth_time"})


class ApiDefinitionError(RuntimeError):
    """The template's API cannot be served locally (unsupported integration or authorizer)."""


class TokenRejectedError(Exception):
    """The ID token failed a check the Cognito authorizer makes; the reason is logged, never returned."""


@dataclass(frozen=True)
class CognitoAuthorizer:
    """A ``cognito_user_pools`` authorizer: which pool, which header, which app clients."""

    name: str
    user_pool_id: str
    identity_header: str
    issuer: str
    jwks_url: str
    audiences: frozenset[str]
    _keys: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def _key(self, kid: str) -> Any:
        with self._lock:
            if kid not in self._keys:  # unknown kid: refresh once (key rotation), as a verifier should
                jwks = requests.get(self.jwks_url, timeout=5)
                jwks.raise_for_status()
                for jwk in jwt.PyJWKSet.from_dict(jwks.json()).keys:
                    if jwk.key_id:
                        self._keys[jwk.key_id] = jwk.key
            if kid not in self._keys:
                raise TokenRejectedError("unknown signing key")
            return self._keys[kid]

    def verify(self, header_value: str | None) -> dict[str, Any]:
        """The verified claims of the ID token in ``header_value``; TokenRejectedError otherwise."""
        if not header_value:
            raise TokenRejectedError("no token")
        token = header_value.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejectedError(f"malformed token: {type(exc).__name__}") from None
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise TokenRejectedError("not an RS256 token with a key id")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=self._key(header["kid"]),
                algorithms=["RS256"],
                audience=sorted(self.audiences),
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "token_use"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejectedError(type(exc).__name__) from None
        if claims.get("token_use") != "id":
            raise TokenRejectedError("not an ID token")
        return claims


@dataclass(frozen=True)
class ApiRoute:
    """One method of one resource path, integrated with a Lambda function (AWS_PROXY)."""

    resource: str
    method: str  # upper case, or "ANY"
    function_arn: str
    authorizer: CognitoAuthorizer | None
    pattern: re.Pattern[str]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in {"ANY", method}:
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}


@dataclass(frozen=True)
class GatewayResponse:
    """A response API Gateway makes itself (no function involved), with its header mappings."""

    status: int
    headers: dict[str, str]  # header name → mapping expression ('static' or method.request.header.X)
    template: str | None

    def render(self, message: str, request_headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json"}
        lowered = {k.lower(): v for k, v in request_headers.items()}
        for name, expression in self.headers.items():
            if expression.startswith("'") and expression.endswith("'"):
                headers[name] = expression[1:-1]
            elif expression.startswith("method.request.header."):
                value = lowered.get(expression.removeprefix("method.request.header.").lower())
                if value is not None:
                    headers[name] = value
        if self.template is not None:
            body = self.template.replace("$context.error.messageString", json.dumps(message))
            body = body.replace("$context.error.message", message)
        else:
            body = json.dumps({"message": message})
        return self.status, headers, body.encode()


@dataclass(frozen=True)
class LocalApi:
    """What one REST API of the template serves: its routes, stage and gateway responses."""

    logical_id: str
    stage: str
    routes: list[ApiRoute]
    gateway_responses: dict[str, dict[str, Any]]

    def route_for(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def gateway_response(self, response_type: str, status: int) -> GatewayResponse:
        """The type's own response, else DEFAULT_4XX / DEFAULT_5XX, as API Gateway chooses."""
        fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        spec = self.gateway_responses.get(response_type) or self.gateway_responses.get(fallback) or {}
        headers = {
            name.removeprefix("gatewayresponse.header."): str(value)
            for name, value in spec.get("responseParameters", {}).items()
            if name.startswith("gatewayresponse.header.")
        }
        template = spec.get("responseTemplates", {}).get("application/json")
        return GatewayResponse(int(spec.get("statusCode", status)), headers, template)


def _path_pattern(resource: str) -> re.Pattern[str]:
    parts = []
    for segment in resource.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("/" + "/".join(parts))


def _authorizer(stack: LocalStack, name: str, definition: Mapping[str, Any]) -> CognitoAuthorizer:
    config = definition.get("x-amazon-apigateway-authorizer", {})
    if config.get("type") != "cognito_user_pools":
        raise ApiDefinitionError(f"authorizer {name}: only Cognito user pool authorizers are served locally")
    (pool_arn,) = config["providerARNs"]
    pool_id = str(pool_arn).rsplit("/", 1)[-1]
    cognito = stack.client("cognito-idp")
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    return CognitoAuthorizer(
        name=name,
        user_pool_id=pool_id,
        identity_header=str(definition.get("name", "Authorization")),
        issuer=f"https://cognito-idp.{stack.region}.amazonaws.com/{pool_id}",
        jwks_url=f"{stack.endpoint_url}/{pool_id}/.well-known/jwks.json",
        audiences=frozenset(str(c["ClientId"]) for c in clients),
    )


def _stage_name(stack: LocalStack, api_logical_id: str) -> str:
    for stage in stack.template.resources_of_type("AWS::ApiGateway::Stage").values():
        if stage.get("Properties", {}).get("RestApiId") == {"Ref": api_logical_id}:
            return str(stack.resolve(stage["Properties"]["StageName"]))
    return "local"


def load_apis(stack: LocalStack) -> list[LocalApi]:
    """Every REST API of the stack's translated template, as the local server serves it."""
    apis = []
    for logical_id, resource in stack.template.resources_of_type("AWS::ApiGateway::RestApi").items():
        body = stack.resolve(resource.get("Properties", {}).get("Body"))
        if not isinstance(body, dict):
            raise ApiDefinitionError(f"{logical_id} has no inline Swagger/OpenAPI body")
        definitions = body.get("securityDefinitions") or body.get("components", {}).get("securitySchemes", {})
        authorizers = {name: _authorizer(stack, name, spec) for name, spec in definitions.items()}
        routes = []
        for resource_path, methods in body.get("paths", {}).items():
            for method, operation in methods.items():
                if method not in _HTTP_METHODS and method != _ANY_METHOD:
                    continue
                integration = operation.get("x-amazon-apigateway-integration", {})
                uri = _INTEGRATION_URI.match(str(integration.get("uri", "")))
                if integration.get("type") != "aws_proxy" or uri is None:
                    raise ApiDefinitionError(f"{logical_id} {method} {resource_path}: not a Lambda proxy")
                schemes = [name for requirement in operation.get("security", []) for name in requirement]
                chosen = [authorizers[name] for name in schemes if name in authorizers]
                routes.append(
                    ApiRoute(
                        resource=resource_path,
                        method="ANY" if method == _ANY_METHOD else method.upper(),
                        function_arn=uri.group("fn"),
                        authorizer=chosen[0] if chosen else None,
                        pattern=_path_pattern(resource_path),
                    )
                )
        # Literal segments win over parameters, as in API Gateway: fewer parameters first.
        routes.sort(key=lambda r: (r.resource.count("{"), -len(r.resource)))
        apis.append(
            LocalApi(
                logical_id=logical_id,
                stage=_stage_name(stack, logical_id),
                routes=routes,
                gateway_responses=dict(body.get("x-amazon-apigateway-gateway-responses", {})),
            )
        )
    return apis


def _claims_as_api_gateway_passes_them(claims: Mapping[str, Any]) -> dict[str, str]:
    """The authorizer hands claims to the function as strings (dates rendered as text)."""
    rendered = {}
    for name, value in claims.items():
        if name in _TIME_CLAIMS and isinstance(value, int):
            rendered[name] = time.strftime(_CLAIM_TIME_FORMAT, time.gmtime(value))
        elif isinstance(value, str):
            rendered[name] = value
        else:
            rendered[name] = json.dumps(value)
    return rendered


@dataclass
class LocalApiServer:
    """Serves one REST API of a local stack over HTTP on a free loopback port."""

    stack: LocalStack
    api_logical_id: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    api: LocalApi | None = None
    rejected_tokens: list[str] = field(default_factory=list)  # reasons, for tests and the console
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lambda: Any = None
    _console: ConsoleSite | None = None  # the operator console's files and sign-in (console_site.py)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalApiServer:
        apis = load_apis(self.stack)
        chosen = [a for a in apis if self.api_logical_id in {None, a.logical_id}]
        if len(chosen) != 1:
            names = ", ".join(a.logical_id for a in apis) or "none"
            raise ApiDefinitionError(f"choose one REST API to serve (the template has: {names})")
        self.api = chosen[0]
        self._lambda = self.stack.client("lambda")  # boto3 clients are thread-safe; build it once
        handler = type("BoundHandler", (_RequestHandler,), {"server_app": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._console = ConsoleSite(self.stack, self.url)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalApiServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ one request
    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        api = self.api
        if api is None:
            raise RuntimeError("the API server is not started")
        split = urlsplit(raw_path)
        path = unquote(split.path) or "/"
        if self._console is not None and ConsoleSite.serves(path):
            return self._console.handle(method, path, headers, body)
        matched = api.route_for(method, path)
        if matched is None:
            return api.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403).render(
                "Missing Authentication Token", headers
            )
        route, path_parameters = matched
        claims: dict[str, str] | None = None
        if route.authorizer is not None:
            header_value = next(
                (v for k, v in headers.items() if k.lower() == route.authorizer.identity_header.lower()), None
            )
            try:
                claims = _claims_as_api_gateway_passes_them(route.authorizer.verify(header_value))
            except TokenRejectedError as exc:
                self.rejected_tokens.append(str(exc))
                return api.gateway_response("UNAUTHORIZED", 401).render("Unauthorized", headers)
        event = proxy_event(
            resource=route.resource,
            method=method,
            path=path,
            query=split.query,
            path_parameters=path_parameters,
            headers=headers,
            body=body,
            claims=claims,
            stage=api.stage,
            domain=f"{self.host}:{self.port}",
        )
        response = self._lambda.invoke(FunctionName=route.function_arn, Payload=json.dumps(event))
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            return api.gateway_response("DEFAULT_5XX", 502).render("Internal server error", headers)
        return _proxy_result(payload, api, headers)


def proxy_event(
    *,
    resource: str,
    method: str,
    path: str,
    query: str = "",
    path_parameters: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    claims: Mapping[str, str] | None = None,
    stage: str = "local",
    domain: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway REST proxy (v1) event, as API Gateway sends it after the authorizer passed."""
    headers = headers or {}
    multi_query = parse_qs(query, keep_blank_values=True)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers.items():
        multi_headers.setdefault(name, []).append(value)
    now = time.time()
    request_id = str(uuid.uuid4())
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "domainName": domain,
        "domainPrefix": "local",
        "extendedRequestId": request_id,
        "httpMethod": method,
        "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
        "path": f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": "local",
        "resourcePath": resource,
        "stage": stage,
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": context,
        "body": body.decode("utf-8", errors="replace") if body else None,
        "isBase64Encoded": False,
    }


def _proxy_result(
    payload: bytes, api: LocalApi, request_headers: Mapping[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """A Lambda proxy result → HTTP; a malformed one is a 502, as API Gateway answers."""
    try:
        result = json.loads(payload)
        status = int(result["statusCode"])
    except (ValueError, KeyError, TypeError):
        return api.gateway_response("DEFAULT_5XX", 502).render("Internal server error", request_headers)
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ",".join(str(v) for v in values)
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        return status, headers, base64.b64decode(body)
    return status, headers, str(body).encode()


class _RequestHandler(BaseHTTPRequestHandler):
    server_app: ClassVar[LocalApiServer]
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = dict(self.headers.items())
        try:
            status, response_headers, payload = self.server_app.handle(self.command, self.path, headers, body)
        except Exception:  # the local server must answer like API Gateway, never hang up
            api = self.server_app.api
            if api is None:
                raise
            status, response_headers, payload = api.gateway_response("DEFAULT_5XX", 500).render(
                "Internal server error", headers
            )
        self.send_response(status)
        for name, value in response_headers.items():
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the console is the user's
        return
