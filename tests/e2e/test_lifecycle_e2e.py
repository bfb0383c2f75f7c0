"""SIGTERM through the real process: in-flight streams finish, new work gets 503, exit 0."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from tests.e2e.conftest import DEFAULT_MODEL, warm_up
from tests.support.live_server import live_server

pytestmark = pytest.mark.e2e

STREAM = {
    "model": DEFAULT_MODEL,
    "messages": [{"role": "user", "content": "Tell me a long story."}],
    "max_tokens": 160,
    "ignore_eos": True,
    "stream": True,
}


def test_sigterm_drains_in_flight_streams_then_exits_zero() -> None:
    with live_server(["--max-model-len", "2048", "--drain-timeout-s", "60"], "drain") as server:
        warm_up(server, DEFAULT_MODEL)
        url = server.v1 + "/chat/completions"
        results: list[str] = []
        streaming = threading.Barrier(4)

        def stream() -> None:
            with httpx.stream("POST", url, json=STREAM, timeout=120) as response:
                lines = response.iter_lines()
                first = next(lines)
                streaming.wait(60)
                results.append("\n".join([first, *lines]))

        workers = [threading.Thread(target=stream) for _ in range(3)]
        for worker in workers:
            worker.start()
        streaming.wait(60)  # all three are streaming
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        refused = httpx.post(url, json={**STREAM, "stream": False, "max_tokens": 2}, timeout=30)
        assert refused.status_code == 503, (refused.text, server.log_tail())
        assert refused.json()["error"]["code"] == "shutting_down"
        assert refused.headers["retry-after"]
        health = httpx.get(server.base_url + "/health", timeout=10)
        assert health.status_code == 503 and health.json()["status"] == "draining", health.text
        for worker in workers:
            worker.join(120)
        assert server.process.wait(60) == 0, server.log_tail()
        assert len(results) == 3, (results, server.log_tail())
        for text in results:
            assert text.rstrip().endswith("data: [DONE]"), text[-300:]
            assert '"finish_reason":"length"' in text
