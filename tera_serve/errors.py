"""The one error hierarchy. Every failure a client can see is a TeraError.

Each subclass fixes the HTTP status and the contract's `error.type`; `code` and `param`
are per instance. `to_body()` is the Tera contract's error shape (OpenAI's); a wire protocol
with another shape maps errors in its own adapter, and the protocol table
(adapters/protocols.py) picks the shape for a route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar


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


ErrorRenderer = Callable[[TeraError, str], bytes]
"""An error's wire bytes for a request path, in the shape of the protocol serving that path
(the HTTP layer builds one from the protocol table and hands it to the lower layers that
refuse requests before routing)."""


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
