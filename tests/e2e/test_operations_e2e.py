"""Operations through the real process: config file start, /metrics, JSON request logs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import DEFAULT_MODEL, warm_up
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

CPU_DEFAULT = Path(__file__).parents[2] / "configs" / "cpu-default.yaml"
CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def config_server(smollm_dir: Path) -> Iterator[LiveServer]:
    with live_server(["--config", str(CPU_DEFAULT), "--log-format", "json"], "config") as server:
        warm_up(server, DEFAULT_MODEL)
        yield server


def scrape(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(server.base_url + "/metrics").text
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_counters_move_by_the_right_amounts(config_server: LiveServer) -> None:
    before = scrape(config_server)
    prompt_tokens = 0
    for _ in range(2):
        body = httpx.post(
            config_server.v1 + "/chat/completions",
            json={
                "model": DEFAULT_MODEL,
                "messages": [{"role": "user", "content": "Tell me a story."}],
                "max_tokens": 4,
                "ignore_eos": True,
            },
            timeout=120,
        ).json()
        prompt_tokens += body["usage"]["prompt_tokens"]
    stream = httpx.post(
        config_server.v1 + "/chat/completions",
        json={
            "model": DEFAULT_MODEL,
            "messages": [{"role": "user", "content": "Count."}],
            "max_tokens": 3,
            "ignore_eos": True,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        timeout=120,
    )
    usage = json.loads(stream.text.split("data: ")[-2])["usage"]
    prompt_tokens += usage["prompt_tokens"]
    bad = httpx.post(
        config_server.v1 + "/chat/completions", json={"model": DEFAULT_MODEL, "messages": []}
    )
    assert bad.status_code == 400
    after = scrape(config_server)

    labels = {"model": DEFAULT_MODEL, "endpoint": CHAT, "status": "200", "finish_reason": "length"}
    assert (
        value(after, "tera_requests_total", **labels)
        - value(before, "tera_requests_total", **labels)
        == 3
    )
    assert (
        value(after, "tera_generation_tokens_total", model=DEFAULT_MODEL)
        - value(before, "tera_generation_tokens_total", model=DEFAULT_MODEL)
        == 11
    )
    assert (
        value(after, "tera_prompt_tokens_total", model=DEFAULT_MODEL)
        - value(before, "tera_prompt_tokens_total", model=DEFAULT_MODEL)
        == prompt_tokens
    )
    ttft = "tera_time_to_first_token_seconds_count"
    assert value(after, ttft, model=DEFAULT_MODEL) - value(before, ttft, model=DEFAULT_MODEL) == 3
    itl = "tera_inter_token_latency_seconds_count"
    assert value(after, itl, model=DEFAULT_MODEL) - value(before, itl, model=DEFAULT_MODEL) >= 8
    assert value(after, "tera_requests_running", model=DEFAULT_MODEL) == 0
    # vLLM's own engine metrics are exported beside ours.
    assert any(name.startswith("vllm:") for name, _ in after)


def test_json_request_log_lines(config_server: LiveServer) -> None:
    response = httpx.post(
        config_server.v1 + "/chat/completions",
        json={
            "model": DEFAULT_MODEL,
            "messages": [{"role": "user", "content": "SECRET-PROMPT-TEXT"}],
            "max_tokens": 2,
        },
        timeout=120,
    )
    request_id = response.headers["x-tera-request-id"]

    def logged() -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for line in config_server.log_path.read_text().splitlines()
            if line.startswith("{") and request_id in line
        ]

    # The line is written when the response has ended, which may be just after the client
    # read it: wait for it (a wide bound, not a timing assertion).
    deadline = time.monotonic() + 30
    while not logged() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = logged()
    assert len(lines) == 1, lines
    (entry,) = lines
    assert entry["status"] == 200 and entry["model"] == DEFAULT_MODEL
    assert entry["completion_tokens"] == 2 and entry["prompt_tokens"] > 0
    assert entry["finish_reason"] in ("length", "stop") and entry["duration_ms"] > 0
    assert "SECRET-PROMPT-TEXT" not in config_server.log_path.read_text()
