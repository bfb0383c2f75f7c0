"""End-to-end servers: the real `tera-serve` process and real vLLM on the CPU."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_server import LiveServer, live_server

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def warm_up(server: LiveServer, model: str) -> None:
    """The first request through a fresh CPU engine pays one-off start-up costs."""
    httpx.post(
        server.v1 + "/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        timeout=120,
    ).raise_for_status()


@pytest.fixture(scope="session")
def default_server(smollm_dir: object) -> Iterator[LiveServer]:
    """`tera-serve` with no --model: the embedded SmolLM2-135M-Instruct."""
    with live_server([], "default") as server:
        warm_up(server, DEFAULT_MODEL)
        yield server
