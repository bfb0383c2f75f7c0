"""Plain ASGI middleware: one log line and the request counters per finished request.

It runs outside the route, so a streamed body is counted when its last byte is sent (or
when the client leaves), with the status the client actually got.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tera_serve.metrics import Metrics, RequestRecord

logger = logging.getLogger("tera_serve.access")

_QUIET_PATHS = frozenset({"/health", "/metrics"})
_PLAIN = re.compile(r"[\x21-\x7e]*")


def log_value(value: object) -> str:
    """A value for the text log line: as is when plain printable ASCII, else JSON-quoted, so a
    client-controlled string (a path with %0a, a model id with spaces) cannot forge fields
    or lines."""
    text = str(value)
    if _PLAIN.fullmatch(text) and '"' not in text and "\\" not in text:
        return text
    return json.dumps(text)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        record = RequestRecord(
            request_id=str(state.get("request_id", "-")),
            method=scope["method"],
            path=scope["path"],
        )
        state["record"] = record
        started = time.perf_counter()
        status = 0

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            duration = time.perf_counter() - started
            if not status:
                status = 499 if record.outcome == "client_closed" else 500
            self.metrics.record_finished(record, status, duration)
            if record.path not in _QUIET_PATHS:
                self._log(record, status, duration)

    def _log(self, record: RequestRecord, status: int, duration: float) -> None:
        fields = {
            "request_id": record.request_id,
            "key": record.key_name or "-",
            "method": record.method,
            "path": record.path,
            "model": record.model or "-",
            "status": status,
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "finish_reason": ",".join(record.finish_reasons) or "-",
            "outcome": record.outcome,
            "duration_ms": round(duration * 1000, 1),
        }
        if record.error_type:
            fields["error"] = record.error_type
        message = " ".join(f"{k}={log_value(v)}" for k, v in fields.items())
        logger.info(message, extra={"fields": fields})
