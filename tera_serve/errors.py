"""The one error hierarchy. Every failure a client can see is a TeraError.

Each subclass fixes the HTTP status and the contract's `error.type`; `code` and `param`
are per instance. `to_body()` is the single mapping to the wire shape, used both for
HTTP error responses and for SSE error events after a stream has started.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson


class TeraError(Exception):
    """Base of every client-visible error."""

    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.headers: dict[str, str] = dict(headers or {})

    def to_body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def to_json(self, path: str = "") -> bytes:
        """The wire bytes of the error for a route: the one serialization of an error (HTTP
        bodies, SSE error frames, the raw-ASGI and h11-level refusals)."""
        return orjson.dumps(error_body_for_path(self, path))


# Anthropic's `error.type` for the statuses its API documents (docs: API errors), plus our
# 503 (a busy model: overloaded, retry later). Any other status: `anthropic_error_type`.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ANTHROPIC_PATH_PREFIX = "/v1/messages"


def anthropic_error_type(status: int) -> str:
    """Anthropic's `error.type` for an HTTP status. Total: any other 4xx (405, 408, 415,
    431, 499, ...) is the client's, `invalid_request_error` as Anthropic's docs use it for
    "other 4XX"; anything else is ours, `api_error` (clients retry those, not a 4xx)."""
    kind = _ANTHROPIC_TYPES.get(status)
    if kind is not None:
        return kind
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def anthropic_error_body(error: TeraError) -> dict[str, Any]:
    """The Anthropic Messages API's error shape (HTTP bodies and `event: error` frames)."""
    return {
        "type": "error",
        "error": {"type": anthropic_error_type(error.status), "message": error.message},
    }


def error_body_for_path(error: TeraError, path: str) -> dict[str, Any]:
    """The one choice of error shape: Anthropic's on its routes, OpenAI's everywhere else."""
    if path.startswith(ANTHROPIC_PATH_PREFIX):
        return anthropic_error_body(error)
    return error.to_body()


class InvalidRequestError(TeraError):
    status = 400
    error_type = "invalid_request_error"


class ContextLengthExceededError(InvalidRequestError):
    def __init__(self, message: str, *, param: str | None = "messages") -> None:
        super().__init__(message, param=param, code="context_length_exceeded")


class AuthenticationError(TeraError):
    status = 401
    error_type = "authentication_error"

    def __init__(self, message: str = "missing or invalid API key") -> None:
        super().__init__(message, code="invalid_api_key")


class PermissionDeniedError(TeraError):
    status = 403
    error_type = "permission_error"


class ModelNotFoundError(TeraError):
    status = 404
    error_type = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model '{model}' does not exist or is not served here; see GET /v1/models.",
            param="model",
            code="model_not_found",
        )


class NotFoundError(TeraError):
    status = 404
    error_type = "not_found_error"


class MethodNotAllowedError(TeraError):
    status = 405
    error_type = "invalid_request_error"


class PayloadTooLargeError(TeraError):
    status = 413
    error_type = "invalid_request_error"


class BodyTimeoutError(TeraError):
    """The client did not finish sending its request body in time."""

    status = 408
    error_type = "invalid_request_error"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The request body did not arrive within {seconds:g} s.",
            code="request_body_timeout",
            headers={"Connection": "close"},
        )


class HeadersTooLargeError(TeraError):
    status = 431
    error_type = "invalid_request_error"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The request line and headers are larger than {limit} bytes.",
            code="headers_too_large",
            headers={"Connection": "close"},
        )


class RateLimitError(TeraError):
    status = 429
    error_type = "rate_limit_error"


class ServerError(TeraError):
    status = 500
    error_type = "server_error"


class ServiceUnavailableError(TeraError):
    status = 503
    error_type = "service_unavailable"


class RequestTimeoutError(TeraError):
    """The server-side request timeout elapsed; the engine request was aborted."""

    status = 504
    error_type = "server_error"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The request did not finish within the server's {seconds:g} s timeout.",
            code="timeout",
        )


class ClientDisconnectedError(TeraError):
    """The client went away; nothing is sent (499 in logs, as nginx names it)."""

    status = 499
    error_type = "client_closed_request"


class ConfigError(Exception):
    """A bad server configuration: reported at start-up, never to a client."""
