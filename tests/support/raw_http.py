"""HTTP/1.1 over a plain socket, for what an HTTP client library will not send: heads in
pieces, bodies that stall, HEAD requests whose every byte on the wire is counted."""

from __future__ import annotations

import socket
import time
from typing import Any

import orjson


def connect(base_url: str, timeout_s: float = 5.0) -> socket.socket:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout_s)


def read_all(sock: socket.socket, within_s: float = 10.0) -> bytes:
    """Everything until the server closes the connection; an error if it has not closed
    within `within_s` (a wide hang bound, not a timing check)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not data:
            return b"".join(chunks)
        chunks.append(data)
    raise AssertionError(f"the server kept the connection open: {b''.join(chunks)[:300]!r}")


def exchange(base_url: str, *pieces: bytes, gap_s: float = 0.05, within_s: float = 10.0) -> bytes:
    """Send `pieces` (a short gap between them, so they arrive as separate reads), then read
    until the server closes. Send `Connection: close` in the head to end a normal answer."""
    sock = connect(base_url)
    try:
        for index, piece in enumerate(pieces):
            if index:
                time.sleep(gap_s)
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break  # answered and closed before the rest: read what came back
        return read_all(sock, within_s)
    finally:
        sock.close()


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, the bytes after the head)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def json_of(body: bytes) -> Any:
    return orjson.loads(body) if body else None


def request_head(method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: x",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
