"""Plain ASGI middleware around every HTTP request: keys, per-key limits, slow request
bodies, and clean-up at the true end of the response.

It sits inside the request-id and access-log middlewares (so refusals carry
X-Tera-Request-ID and are logged, with the key's name and never its secret) and outside
FastAPI, so its `finally` runs only after a streamed body has ended or the client has gone:
that is where tokens are settled and admission slots and concurrency counts given back.
It imports nothing from the HTTP layer: its refusals are written as raw ASGI messages.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tera_serve.bounded_work import using_workers
from tera_serve.errors import (
    AuthenticationError,
    BodyTimeoutError,
    ErrorRenderer,
    HeadersTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    TeraError,
)
from tera_serve.metrics import Metrics, scope_record
from tera_serve.security.guard import RequestGuard, SecurityState

OPEN_PATHS: frozenset[str] = frozenset({"/health"})
"""Routes that answer without a key when keys are configured. Only liveness, and then only
ok / not ok (the details need a key). /openapi.json and /docs need a key like every other
route. The playground's static files (SecurityState.public_paths) are public too: they hold
no data, and the page sends the key the user types with each API call."""
ADMIN_PATHS: frozenset[str] = frozenset({"/metrics"})
"""Routes that need a key with the `admin` scope: they show every model's traffic.
Prometheus sends the key with `authorization: {credentials: ...}` in its scrape config."""


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


async def send_error(send: Send, body: bytes, error: TeraError) -> None:
    """An error body (in the shape of the path's protocol), as raw ASGI messages."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *_encode(list(error.headers.items())),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
    def __init__(
        self,
        app: ASGIApp,
        security: SecurityState,
        metrics: Metrics,
        render_error: ErrorRenderer,
    ) -> None:
        self.app = app
        self.security = security
        self.metrics = metrics
        self.render_error = render_error

    def _authenticate(self, scope: Scope, guard: RequestGuard) -> None:
        """Give the guard its key, or raise 431 / 401 / 403 / 429 (and count nothing)."""
        security = self.security
        # h11 bounds a head that arrives in pieces; one that arrives whole is measured here.
        if head_size(scope) > security.max_header_bytes:
            raise HeadersTooLargeError(security.max_header_bytes)
        if security.keys is None:
            return
        path = scope["path"]
        if path in security.public_paths and scope["method"] in ("GET", "HEAD"):
            return
        key = security.keys.authenticate(presented_secret(scope))
        if scope["path"] in OPEN_PATHS:
            guard.key = key  # a valid key sees the details; no key is fine too
            guard.limits_apply = False
            return
        if key is None:
            error = AuthenticationError()
            error.headers["WWW-Authenticate"] = 'Bearer realm="tera-serve"'
            raise error
        guard.key = key
        if scope["path"] in ADMIN_PATHS and not key.is_admin:
            raise PermissionDeniedError(
                f"{scope['path']} needs a key with the `admin` scope.",
                code="admin_scope_required",
            )
        security.limiter.admit(key)
        guard.on_finish(lambda: security.limiter.release(key))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        guard = RequestGuard(self.security, key=None)
        record = scope_record(scope)  # the access-log line (outside us) reports the key name
        admitted = False
        # A body left unread by an early answer (401, 413) is discarded by the h11 protocol
        # for at most body_timeout_s, then the connection closes (slow_clients.py).
        body = _BodyReceiver(receive, self.security.body_timeout_s)

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                body.body_done = True
                if admitted and guard.key is not None and guard.limits_apply:
                    extra = _encode(self.security.limiter.headers(guard.key))
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        try:
            self._authenticate(scope, guard)
        except (
            HeadersTooLargeError,
            AuthenticationError,
            PermissionDeniedError,
            RateLimitError,
        ) as exc:
            if record is not None:
                record.key_name = guard.key.name if guard.key is not None else None
                record.error_type = exc.error_type
            if isinstance(exc, RateLimitError):
                self.metrics.rate_limited.labels("-", exc.code or "rate_limit").inc()
            body_bytes = self.render_error(exc, scope.get("path", ""))
            await send_error(guarded_send, body_bytes, exc)
            return
        admitted = True
        if record is not None and guard.key is not None:
            record.key_name = guard.key.name
        state["guard"] = guard
        self.security.in_flight += 1
        try:
            with using_workers(self.security.workers):
                await self.app(scope, body, guarded_send)
        finally:
            self.security.in_flight -= 1
            if record is not None:
                guard.settle(record)
            guard.finish()


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
