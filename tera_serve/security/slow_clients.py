"""uvicorn's h11 protocol with a time bound on request headers and contract-shaped 400s.

uvicorn bounds idle keep-alive connections but not a client that connects and then sends
its request head slowly (or never): such a connection would be held forever. Here a timer
runs from the connection's start, and again from the first byte of each later request,
until the head is complete. Request bodies are bounded in the ASGI layer (middleware.py).

uvicorn's keep-alive timer is cancelled by any byte that arrives, and it is armed only when
a response ends. A client answered before its body was read (an early 401 or 413) could
otherwise keep the connection open for ever by trickling the body a byte at a time: when a
response ends with the request body still arriving, the rest is discarded (uvicorn drops
it) for at most `body_timeout_s`, then the connection closes; no byte re-arms that timer.
(Closing at once instead would reset the connection under unread bytes, and the client
could lose the answer.) A body that does end in time leaves a normal keep-alive connection.
The size of the head is bounded by h11 (`h11_max_incomplete_event_size`), which is why
tera-serve runs uvicorn's h11 protocol rather than httptools (which has no such bound).
A head refused here gets the route's error shape (Anthropic's on /v1/messages) when its
request line arrived: a 431 when it outgrew the limit (as the middleware answers a head
that arrives whole), else a 400.
"""

from __future__ import annotations

import asyncio
import http
from dataclasses import dataclass
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from tera_serve.errors import (
    ErrorRenderer,
    HeadersTooLargeError,
    InvalidRequestError,
    TeraError,
)

_HEAD_SAMPLE = 2048
"""Bytes kept from the start of each request head: its request line, for the error shape."""


def request_path(head: bytes) -> str:
    """The path of a request line (without its query), or "" when there is none yet."""
    line, newline, _ = head.lstrip(b"\r\n").partition(b"\r\n")
    parts = line.split(b" ")
    if not newline or len(parts) != 3 or not parts[1].startswith(b"/"):
        return ""
    return parts[1].partition(b"?")[0].decode("latin-1")


@dataclass(frozen=True)
class HeadLimits:
    """What one server's connections are held to (uvicorn builds the protocol itself, so
    these ride on the class, not on an instance)."""

    header_timeout_s: float
    max_header_bytes: int
    render_error: ErrorRenderer
    body_timeout_s: float


def head_refusal(unparsed: bytes, max_header_bytes: int) -> TeraError:
    """The error for a head h11 refused: too large (431) or malformed (400)."""
    if len(unparsed) > max_header_bytes:
        return HeadersTooLargeError(max_header_bytes)
    return InvalidRequestError(
        "Invalid HTTP request: the request head is malformed.", code="invalid_http_request"
    )


def closing_response(conn: h11.Connection, status: int, body: bytes) -> bytes:
    """The bytes of a JSON answer that closes the connection."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    reason = http.HTTPStatus(status).phrase.encode()
    events = (
        h11.Response(status_code=status, headers=headers, reason=reason),
        h11.Data(data=body),
        h11.EndOfMessage(),
    )
    return b"".join(conn.send(event) or b"" for event in events)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol under HeadLimits: a clock on each request head, a bounded
    discard of a body left unread, and refusals in the shape of the path's protocol."""

    limits: ClassVar[HeadLimits]
    _header_timer: asyncio.TimerHandle | None = None
    _discard_timer: asyncio.TimerHandle | None = None
    _head: bytes = b""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and len(self._head) < _HEAD_SAMPLE:
            self._head += data[: _HEAD_SAMPLE - len(self._head)]
        super().data_received(data)
        if self._discard_timer is not None and self.conn.their_state is not h11.SEND_BODY:
            self._discard_timer.cancel()  # the unread body ended in time
            self._discard_timer = None
        if self.conn.their_state is h11.IDLE:
            self._arm()  # part of a request head: the clock runs until it is complete
        else:
            self._disarm()
            self._head = b""

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._discard_timer is not None:
            self._discard_timer.cancel()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        unread = self.conn.their_state is h11.SEND_BODY
        if unread and self._discard_timer is None and not self.transport.is_closing():
            self._discard_timer = self.loop.call_later(self.limits.body_timeout_s, self._drop)

    def _drop(self) -> None:
        self._discard_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _arm(self) -> None:
        if self._header_timer is None and not self.transport.is_closing():
            self._header_timer = self.loop.call_later(self.limits.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        unparsed, _ = self.conn.trailing_data
        error = head_refusal(unparsed, self.limits.max_header_bytes)
        body = self.limits.render_error(error, request_path(self._head or unparsed))
        self.transport.write(closing_response(self.conn, error.status, body))
        self.transport.close()


def guarded_h11_protocol(
    header_timeout_s: float,
    max_header_bytes: int,
    render_error: ErrorRenderer,
    body_timeout_s: float = 30.0,
) -> type[H11Protocol]:
    """A GuardedH11Protocol class bound to these limits (uvicorn instantiates it per
    connection); its refusals take the shape of the protocol of the path they name."""
    limits = HeadLimits(header_timeout_s, max_header_bytes, render_error, body_timeout_s)
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})
