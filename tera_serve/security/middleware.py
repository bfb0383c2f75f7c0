"""Plain ASGI middleware around every HTTP request: keys, per-key limits, slow request
bodies, and clean-up at the true end of the response.

It sits inside the request-id and access-log middlewares (so refusals carry
X-Tera-Request-ID and are logged, with the key's name and never its secret) and outside
FastAPI, so its `finally` runs only after a streamed body has ended or the client has gone:
that is where tokens are settled and admission slots and concurrency counts given back.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tera_serve.errors import AuthenticationError, RateLimitError, TeraError
from tera_serve.http.access import record_of
from tera_serve.http.errors import error_response
from tera_serve.metrics import Metrics
from tera_serve.security.guard import RequestGuard, SecurityState

OPEN_PATHS: frozenset[str] = frozenset({"/health"})
"""Routes that answer without a key when keys are configured. Only liveness: /metrics,
/openapi.json and /docs need a key like every other route (Prometheus sends one with
`authorization: {credentials: ...}` in its scrape config). The playground's static files
(SecurityState.public_paths) are public too: they hold no data, and the page sends the key
the user types with each API call."""


class BodyTimeoutError(TeraError):
    """The client did not finish sending its request body in time."""

    status: ClassVar[int] = 408
    error_type: ClassVar[str] = "invalid_request_error"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The request body did not arrive within {seconds:g} s.",
            code="request_body_timeout",
            headers={"Connection": "close"},
        )


class HeadersTooLargeError(TeraError):
    status: ClassVar[int] = 431
    error_type: ClassVar[str] = "invalid_request_error"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The request line and headers are larger than {limit} bytes.",
            code="headers_too_large",
            headers={"Connection": "close"},
        )


def head_size(scope: Scope) -> int:
    """Bytes of the request line and headers, as sent (give or take the separators)."""
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 16
    return size + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))


def presented_secret(scope: Scope) -> str | None:
    """`Authorization: Bearer <key>`, else `x-api-key: <key>` (Anthropic-style clients)."""
    bearer: str | None = None
    api_key: str | None = None
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        elif name == b"x-api-key":
            api_key = value.decode("latin-1").strip() or None
    return bearer or api_key


class _BodyReceiver:
    """receive() with one deadline for the whole request body; free after it (or once the
    response has started), when receive() only waits for a disconnect."""

    def __init__(self, receive: Receive, timeout_s: float) -> None:
        self._receive = receive
        self._timeout_s = timeout_s
        self._deadline = asyncio.get_running_loop().time() + timeout_s
        self.body_done = False

    async def __call__(self) -> Message:
        if self.body_done:
            return await self._receive()
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise BodyTimeoutError(self._timeout_s) from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.body_done = True
        return message


class GuardMiddleware:
    def __init__(self, app: ASGIApp, security: SecurityState, metrics: Metrics) -> None:
        self.app = app
        self.security = security
        self.metrics = metrics

    def _authenticate(self, scope: Scope, guard: RequestGuard) -> None:
        """Give the guard its key, or raise 431 / 401 / 429 (and count nothing)."""
        security = self.security
        # h11 bounds a head that arrives in pieces; one that arrives whole is measured here.
        if head_size(scope) > security.max_header_bytes:
            raise HeadersTooLargeError(security.max_header_bytes)
        path = scope["path"]
        public = path in security.public_paths and scope["method"] in ("GET", "HEAD")
        if security.keys is None or path in OPEN_PATHS or public:
            return
        key = security.keys.authenticate(presented_secret(scope))
        if key is None:
            error = AuthenticationError()
            error.headers["WWW-Authenticate"] = 'Bearer realm="tera-serve"'
            raise error
        guard.key = key
        security.limiter.admit(key)
        guard.on_finish(lambda: security.limiter.release(key))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        guard = RequestGuard(self.security, key=None)
        record = record_of(scope)  # the access-log line (outside us) reports the key name
        admitted = False
        body = _BodyReceiver(receive, self.security.body_timeout_s)

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                body.body_done = True
                if admitted and guard.key is not None:
                    extra = _encode(self.security.limiter.headers(guard.key))
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        try:
            self._authenticate(scope, guard)
        except (HeadersTooLargeError, AuthenticationError, RateLimitError) as exc:
            if record is not None:
                record.key_name = guard.key.name if guard.key is not None else None
                record.error_type = exc.error_type
            if isinstance(exc, RateLimitError):
                self.metrics.rate_limited.labels("-", exc.code or "rate_limit").inc()
            await error_response(exc, scope.get("path", ""))(scope, receive, guarded_send)
            return
        admitted = True
        if record is not None and guard.key is not None:
            record.key_name = guard.key.name
        state["api_key"] = guard.key
        state["guard"] = guard
        self.security.in_flight += 1
        try:
            await self.app(scope, body, guarded_send)
        finally:
            self.security.in_flight -= 1
            if record is not None:
                guard.settle(record)
            guard.finish()


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
