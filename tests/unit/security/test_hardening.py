"""Slow clients, oversized request heads, and chat-template safety."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.fake_app import FAKE_MODEL_ID, fake_server
from tests.unit.security.support import ThreadedServer, is_contract_error, threaded_server

CHAT = {"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


@pytest.fixture(scope="module")
def server(smollm_dir: Path) -> Iterator[ThreadedServer]:
    with threaded_server(
        smollm_dir, body_timeout_s=0.5, header_timeout_s=0.5, max_header_bytes=4096
    ) as running:
        yield running


def connect(server: ThreadedServer) -> socket.socket:
    port = int(server.base_url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (or 5 s pass)."""
    chunks = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        if not data:
            return b"".join(chunks)
        chunks.append(data)
    raise AssertionError(f"the server kept the connection open: {b''.join(chunks)!r}")


def split_response(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, orjson.loads(body) if body else None


def test_body_that_never_finishes_gets_408_and_is_dropped(server: ThreadedServer) -> None:
    sock = connect(server)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 500\r\n\r\n{"model": '
    )
    status, headers, body = split_response(read_all(sock))
    assert status == 408 and is_contract_error(body)
    assert body["error"]["code"] == "request_body_timeout"
    assert headers["connection"] == "close"
    assert server.context.security.in_flight == 0


def test_head_that_never_finishes_is_dropped(server: ThreadedServer) -> None:
    sock = connect(server)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert read_all(sock) == b""
    silent = connect(server)  # connects and says nothing at all
    assert read_all(silent) == b""


def test_trickled_head_is_dropped_even_while_bytes_arrive(server: ThreadedServer) -> None:
    sock = connect(server)
    sock.settimeout(0.05)
    sock.sendall(b"GET /health HTTP/1.1\r\n")
    started = time.monotonic()
    closed_after: float | None = None
    sent = 0
    while closed_after is None and time.monotonic() - started < 3:
        try:
            sock.sendall(b"X-A: b\r\n")  # a header line every ~50 ms, never the blank line
            sent += 1
            if sock.recv(1) == b"":
                closed_after = time.monotonic() - started
        except TimeoutError:
            continue  # still open, nothing to read: keep trickling
        except (BrokenPipeError, ConnectionResetError):
            closed_after = time.monotonic() - started
    assert closed_after is not None  # closed (0.5 s bound) although bytes kept arriving
    assert sent >= 3


def test_keep_alive_then_slow_second_request(server: ThreadedServer) -> None:
    sock = connect(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    sock.sendall(b"GET /health HTTP/1.1\r\nHo")
    assert read_all(sock) == b""


def test_oversized_head_is_a_contract_error(server: ThreadedServer) -> None:
    whole = connect(server)  # arrives in one read: measured by the middleware
    whole.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
    status, headers, body = split_response(read_all(whole))
    assert status == 431 and is_contract_error(body)
    assert body["error"]["code"] == "headers_too_large" and headers["connection"] == "close"
    pieces = connect(server)  # arrives in pieces: h11 stops buffering past the limit
    pieces.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000)
    time.sleep(0.05)
    pieces.sendall(b"a" * 3000)
    status, headers, body = split_response(read_all(pieces))
    assert status == 431 and is_contract_error(body)  # the same answer as a whole head's
    assert body["error"]["code"] == "headers_too_large" and headers["connection"] == "close"
    malformed = connect(server)
    malformed.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    status, _, body = split_response(read_all(malformed))
    assert status == 400 and is_contract_error(body)
    assert body["error"]["code"] == "invalid_http_request"
    ok = connect(server)
    ok.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Fine: " + b"a" * 1000 + b"\r\n\r\n")
    assert ok.recv(65536).startswith(b"HTTP/1.1 200")


def test_normal_requests_still_work(server: ThreadedServer) -> None:
    import httpx

    response = httpx.post(server.base_url + "/v1/chat/completions", json=CHAT, timeout=10)
    assert response.status_code == 200, response.text


async def test_request_chat_template_is_refused_unless_enabled(smollm_dir: Path) -> None:
    escape = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    async with fake_server(smollm_dir) as (client, _, _app):
        response = await client.post("/v1/chat/completions", json={**CHAT, "chat_template": escape})
        assert response.status_code == 400 and response.json()["error"]["param"] == "chat_template"
    overrides = {"allow_request_chat_template": True}
    async with fake_server(smollm_dir, server_overrides=overrides) as (client, _, _app):
        # Even when enabled, templates run sandboxed: no reaching into Python internals.
        response = await client.post("/v1/chat/completions", json={**CHAT, "chat_template": escape})
        assert response.status_code == 400 and is_contract_error(response.json())
        plain = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
        response = await client.post("/v1/chat/completions", json={**CHAT, "chat_template": plain})
        assert response.status_code == 200, response.text
