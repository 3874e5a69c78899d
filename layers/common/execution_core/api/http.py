"""The one place where exceptions become HTTP responses, and the API's CORS configuration.

Bodies are fixed, client-facing texts: an exception's own message (which may name tables, keys or
internal states) never reaches a response, and neither does a stack trace.
"""

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from execution_core.errors import InvalidInputError
from execution_core.services.authz import ForbiddenError, UnauthenticatedError
from execution_core.services.pagination import InvalidPaginationTokenError
from execution_core.services.status import ExecutionNotFoundError, InvalidLimitError, InvalidParameterError

UNAUTHORIZED_BODY = {"error": "Unauthorized"}
FORBIDDEN_BODY = {"error": "Forbidden"}
NOT_FOUND_BODY = {"error": "Execution not found"}
ROUTE_NOT_FOUND_BODY = {"error": "Not found"}
INTERNAL_ERROR_BODY = {"error": "Internal server error"}
INVALID_TOKEN_BODY = {"error": "Invalid next_token", "message": "The next_token is invalid or has expired."}
INVALID_REQUEST_BODY = {"error": "Invalid request", "message": "The request is invalid."}
CORS_MAX_AGE_SECONDS = 600


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


def error_handlers(logger: Logger) -> list[tuple[type[Exception], Callable[[Any], Response[str]]]]:
    """The exception → HTTP map. Powertools picks the handler of the most specific class (by MRO)."""

    def unauthenticated(exc: UnauthenticatedError) -> Response[str]:
        logger.info("request without verified identity")
        return json_response(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED_BODY)

    def forbidden(exc: ForbiddenError) -> Response[str]:
        logger.info("access denied", extra={"reason": exc.message})
        return json_response(HTTPStatus.FORBIDDEN, FORBIDDEN_BODY)

    def not_found(exc: ExecutionNotFoundError) -> Response[str]:
        return json_response(HTTPStatus.NOT_FOUND, NOT_FOUND_BODY)

    def invalid_limit(exc: InvalidLimitError) -> Response[str]:
        body = {"error": "Invalid limit parameter", "message": exc.message, "provided": exc.provided}
        return json_response(HTTPStatus.BAD_REQUEST, body)

    def invalid_token(exc: InvalidPaginationTokenError) -> Response[str]:
        logger.info("pagination token refused")
        return json_response(HTTPStatus.BAD_REQUEST, INVALID_TOKEN_BODY)

    def invalid_parameter(exc: InvalidParameterError) -> Response[str]:
        return json_response(HTTPStatus.BAD_REQUEST, {"error": "Invalid request", "message": exc.message})

    def invalid_input(exc: InvalidInputError) -> Response[str]:
        # Raised below the API (e.g. a key component check): its message is internal, the status is not.
        logger.info("request refused as invalid", extra={"error_code": exc.error_code.value})
        return json_response(HTTPStatus.BAD_REQUEST, INVALID_REQUEST_BODY)

    def route_not_found(exc: NotFoundError) -> Response[str]:
        return json_response(HTTPStatus.NOT_FOUND, ROUTE_NOT_FOUND_BODY)

    def unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error in the status API")
        return json_response(HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_ERROR_BODY)

    return [
        (UnauthenticatedError, unauthenticated),
        (ForbiddenError, forbidden),
        (ExecutionNotFoundError, not_found),
        (InvalidLimitError, invalid_limit),
        (InvalidPaginationTokenError, invalid_token),
        (InvalidParameterError, invalid_parameter),
        (InvalidInputError, invalid_input),
        (NotFoundError, route_not_found),  # no route matched (API Gateway only forwards known routes)
        (Exception, unexpected),
    ]


def register_error_handlers(app: APIGatewayRestResolver, logger: Logger) -> None:
    """Install the exception → HTTP map on ``app``."""
    for exc_class, handler in error_handlers(logger):
        app.exception_handler(exc_class)(handler)
