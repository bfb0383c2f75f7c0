"""Anthropic's error shape: `{"type": "error", "error": {"type", "message"}}`, with the
`error.type` its API documents for each HTTP status."""

from __future__ import annotations

from typing import Any

from tera_serve.errors import TeraError

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
