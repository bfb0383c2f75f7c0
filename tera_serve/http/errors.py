"""One mapping from errors to HTTP responses (and to SSE error frames)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tera_serve.adapters.protocols import error_json
from tera_serve.errors import (
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    ServerError,
    TeraError,
)
from tera_serve.http.validation import param_from_location

logger = logging.getLogger(__name__)


def error_response(error: TeraError, path: str = "") -> Response:
    """The error in the shape of the route's protocol (adapters/protocols.py)."""
    return Response(
        content=error_json(error, path),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    async def on_tera_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, TeraError):  # pragma: no cover - registered for TeraError
            raise exc
        return error_response(exc, request.url.path)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        if status == 404:
            return error_response(
                NotFoundError(f"No route {request.url.path}.", code="not_found"), request.url.path
            )
        if status == 405:
            return error_response(
                MethodNotAllowedError(
                    f"{request.method} is not allowed on {request.url.path}.",
                    code="method_not_allowed",
                ),
                request.url.path,
            )
        detail = getattr(exc, "detail", "error")
        return error_response(InvalidRequestError(str(detail)), request.url.path)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        first = errors[0] if errors else {}
        loc = tuple(first.get("loc", ()))
        if loc and loc[0] in ("body", "query", "path"):
            loc = loc[1:]
        return error_response(
            InvalidRequestError(
                str(first.get("msg", "invalid request")), param=param_from_location(loc)
            ),
            request.url.path,
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s", request.url.path)
        return error_response(
            ServerError("Internal server error.", code="internal_error"), request.url.path
        )

    app.add_exception_handler(TeraError, on_tera_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
