"""The one place where exceptions become HTTP responses, and the API's CORS configuration.

Bodies are fixed, client-facing texts: an exception's own message (which may name tables, keys or
internal states) never reaches a response, and neither does a stack trace.
"""

import json
import re
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.errors import InvalidInputError
from execution_core.services.authz import ForbiddenError, UnauthenticatedError
from execution_core.services.pagination import InvalidPaginationTokenError
from execution_core.services.status import (
    ExecutionNotFoundError,
    InvalidLimitError,
    InvalidParameterError,
    InvalidStatusFilterError,
    path_identifier,
)

UNAUTHORIZED_BODY = {"error": "Unauthorized"}
FORBIDDEN_BODY = {"error": "Forbidden"}
NOT_FOUND_BODY = {"error": "Execution not found"}
ROUTE_NOT_FOUND_BODY = {"error": "Not found"}
INTERNAL_ERROR_BODY = {"error": "Internal server error"}
INVALID_TOKEN_BODY = {"error": "Invalid next_token", "message": "The next_token is invalid or has expired."}
INVALID_REQUEST_BODY = {"error": "Invalid request", "message": "The request is invalid."}
MALFORMED_REQUEST_MESSAGE = "The request is malformed."
CORS_MAX_AGE_SECONDS = 600
# Responses depend on the request's Origin (CORS echoes it): caches must key on it.
VARY_HEADER = ("Vary", "Origin")
_PROBLEM_CONTEXT_KEY = "proxy_event_problem"
_STRING_MAPS = ("headers", "queryStringParameters", "pathParameters", "stageVariables")
_LIST_MAPS = ("multiValueHeaders", "multiValueQueryStringParameters")


def require_proxy_event(event: object) -> dict[str, Any]:
    """Only API Gateway REST proxy events are served; anything else is a caller bug, not a request."""
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("httpMethod"), str)
        or not isinstance(event.get("path"), str)
        or not isinstance(event.get("requestContext"), dict)
    ):
        raise InvalidInputError("the event is not an API Gateway REST proxy event")
    return event


def _is_string_map(value: object, multi: bool) -> bool:
    if not isinstance(value, dict):
        return False
    for name, item in value.items():
        if not isinstance(name, str):
            return False
        if multi:
            if not isinstance(item, list) or not all(isinstance(part, str) for part in item):
                return False
        elif not isinstance(item, str):
            return False
    return True


def sanitize_proxy_event(event: object) -> tuple[dict[str, Any], str | None]:
    """A copy of the proxy event that Powertools can always read, and what was wrong with it (or None).

    Every map the event carries (headers, query string, path parameters, in single and multi-value form)
    must be absent/null or a map of strings; the authorizer and its claims must be absent/null or maps.
    A field of any other shape is replaced by null and reported: ``"claims"`` for the identity part (a
    401: no usable verified identity), ``"shape"`` for the rest (a 400), so a broken event is a classified
    answer, never a crash while Powertools reads it (CORS, for one, reads the headers after the route).
    """
    checked = dict(require_proxy_event(event))
    problem: str | None = None
    for name in (*_STRING_MAPS, *_LIST_MAPS):
        value = checked.get(name)
        if value is not None and not _is_string_map(value, multi=name in _LIST_MAPS):
            checked[name] = None
            problem = "shape"
    context = dict(checked["requestContext"])
    authorizer = context.get("authorizer")
    if authorizer is not None and not isinstance(authorizer, dict):
        context["authorizer"] = None
        problem = problem or "claims"
    elif isinstance(authorizer, dict):
        claims = authorizer.get("claims")
        if claims is not None and not isinstance(claims, dict):
            context["authorizer"] = {**authorizer, "claims": None}
            problem = problem or "claims"
    checked["requestContext"] = context
    return checked, problem


def route_path_pattern(rule: str) -> re.Pattern[str]:
    """A Powertools route rule (``/executions/<action_intent_id>/status``) matching *any* segment text.

    Powertools' own matching only accepts a charset of its choosing, so an id outside it would fall
    through to "no route" (a 404); this pattern lets the request guard apply the identifier rule instead.
    """
    parts = re.split(r"<(\w+)>", rule)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]*)" for index, part in enumerate(parts)
    )
    return re.compile(f"^{pattern}$")


def request_guard(routes: Sequence[str]) -> Callable[[APIGatewayRestResolver, NextMiddleware], Response[Any]]:
    """Global middleware: refuse a broken event, and any path id of ``routes`` that is not an Identifier.

    It runs for matched and unmatched routes alike (Powertools runs global middlewares on its "not found"
    route too), so ``/executions/<any text>/status`` is a 400 whatever the text, never a 404 or a 500.
    """
    patterns = [route_path_pattern(rule) for rule in routes]

    def guard(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
        problem = app.context.get(_PROBLEM_CONTEXT_KEY)
        if problem == "claims":
            raise UnauthenticatedError("the authorizer claims are not a claim set")
        if problem is not None:
            raise InvalidParameterError(MALFORMED_REQUEST_MESSAGE)
        if app.current_event.http_method.upper() != "OPTIONS":
            for pattern in patterns:
                found = pattern.fullmatch(app.current_event.path)
                if found:
                    for name, raw in found.groupdict().items():
                        path_identifier(raw, name)
                    break
        return next_middleware(app)

    return guard


def serve(app: APIGatewayRestResolver, event: object, context: LambdaContext) -> dict[str, Any]:
    """Resolve one proxy event: sanitized first (see ``sanitize_proxy_event``), ``Vary: Origin`` on every
    response."""
    checked, problem = sanitize_proxy_event(event)
    app.context[_PROBLEM_CONTEXT_KEY] = problem  # cleared by resolve() when it ends
    result = app.resolve(checked, context)
    name, value = VARY_HEADER
    headers = result.setdefault("multiValueHeaders", {})
    headers[name] = [value]
    return result


def json_response(status: HTTPStatus, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status.value, content_type=content_types.APPLICATION_JSON, body=json.dumps(body)
    )


def cors_config(origins: list[str]) -> CORSConfig:
    """Echo the request's Origin only when it is one of ``origins`` (no wildcard, no credentials)."""
    if not origins:
        raise ValueError("at least one allowed origin is required")
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=["Authorization", "Content-Type"],
        max_age=CORS_MAX_AGE_SECONDS,
        allow_credentials=False,
    )


class _ErrorResponses:
    """One method per refused request kind: what is logged (never returned) and the documented body."""

    def __init__(self, logger: Logger) -> None:
        self.logger = logger

    def unauthenticated(self, exc: UnauthenticatedError) -> Response[str]:
        self.logger.info("request without verified identity")
        return json_response(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED_BODY)

    def forbidden(self, exc: ForbiddenError) -> Response[str]:
        self.logger.info("access denied", extra={"reason": exc.message})
        return json_response(HTTPStatus.FORBIDDEN, FORBIDDEN_BODY)

    def not_found(self, exc: ExecutionNotFoundError) -> Response[str]:
        return json_response(HTTPStatus.NOT_FOUND, NOT_FOUND_BODY)

    def invalid_limit(self, exc: InvalidLimitError) -> Response[str]:
        body = {"error": "Invalid limit parameter", "message": exc.message, "provided": exc.provided}
        return json_response(HTTPStatus.BAD_REQUEST, body)

    def invalid_status(self, exc: InvalidStatusFilterError) -> Response[str]:
        body = {"error": "Invalid status parameter", "message": exc.message, "provided": exc.provided}
        return json_response(HTTPStatus.BAD_REQUEST, body)

    def invalid_token(self, exc: InvalidPaginationTokenError) -> Response[str]:
        self.logger.info("pagination token refused")
        return json_response(HTTPStatus.BAD_REQUEST, INVALID_TOKEN_BODY)

    def invalid_parameter(self, exc: InvalidParameterError) -> Response[str]:
        return json_response(HTTPStatus.BAD_REQUEST, {"error": "Invalid request", "message": exc.message})

    def invalid_input(self, exc: InvalidInputError) -> Response[str]:
        # Raised below the API (e.g. a key component check): its message is internal, the status is not.
        self.logger.info("request refused as invalid", extra={"error_code": exc.error_code.value})
        return json_response(HTTPStatus.BAD_REQUEST, INVALID_REQUEST_BODY)

    def route_not_found(self, exc: NotFoundError) -> Response[str]:
        return json_response(HTTPStatus.NOT_FOUND, ROUTE_NOT_FOUND_BODY)

    def unexpected(self, exc: Exception) -> Response[str]:
        self.logger.exception("unhandled error in the status API")
        return json_response(HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_ERROR_BODY)


def error_handlers(logger: Logger) -> list[tuple[type[Exception], Callable[[Any], Response[str]]]]:
    """The exception → HTTP map. Powertools picks the handler of the most specific class (by MRO)."""
    responses = _ErrorResponses(logger)
    return [
        (UnauthenticatedError, responses.unauthenticated),
        (ForbiddenError, responses.forbidden),
        (ExecutionNotFoundError, responses.not_found),
        (InvalidLimitError, responses.invalid_limit),
        (InvalidStatusFilterError, responses.invalid_status),
        (InvalidPaginationTokenError, responses.invalid_token),
        (InvalidParameterError, responses.invalid_parameter),
        (InvalidInputError, responses.invalid_input),
        # No route matched (API Gateway only forwards known routes).
        (NotFoundError, responses.route_not_found),
        (Exception, responses.unexpected),
    ]


def register_error_handlers(app: APIGatewayRestResolver, logger: Logger, routes: Sequence[str] = ()) -> None:
    """Install the exception → HTTP map on ``app``, and the request guard for the path ids of ``routes``."""
    for exc_class, handler in error_handlers(logger):
        app.exception_handler(exc_class)(handler)
    app.use([request_guard(routes)])
