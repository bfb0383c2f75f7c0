"""Load through real sockets (tera-serve's uvicorn server, FakeEngine): every request is
accounted for, and nothing is left behind in the engine, the admission queues or the keys'
concurrency counts."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.fake_app import FAKE_MODEL_ID
from tests.unit.security.support import (
    ThreadedServer,
    bearer,
    is_contract_error,
    make_keys_file,
    threaded_server,
)

WORDS = 12
CHAT = {"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64}


@pytest.fixture(scope="module")
def loaded(smollm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    keys_path = tmp_path_factory.mktemp("load") / "keys.yaml"
    secrets = make_keys_file(keys_path, {"main": {}, "limited": {"rpm": 10}})
    with threaded_server(
        smollm_dir,
        words=WORDS,
        step_delay_s=0.005,
        keys_file=str(keys_path),
        max_running_per_model=24,
        max_queued_per_model=200,
    ) as running:
        yield running, secrets


async def settled(running: ThreadedServer) -> None:
    """Disconnects are noticed asynchronously: wait (bounded) for the server to be idle."""
    security = running.context.security
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (
            running.engine.unfinished_requests() == 0
            and security.in_flight == 0
            and security.admission.busy() == 0
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"not idle: engine={running.engine.unfinished_requests()} "
        f"in_flight={security.in_flight} admission={security.admission.busy()}"
    )


def stream_text(lines: list[str]) -> str:
    text = ""
    for line in lines:
        if line.startswith("data: {"):
            chunk = orjson.loads(line.removeprefix("data: "))
            if chunk.get("choices"):
                text += chunk["choices"][0]["delta"].get("content") or ""
    return text


async def one_request(client: httpx.AsyncClient, kind: str, secrets: dict[str, str]) -> str:
    """Run one request of `kind`; returns complete, error:<status>, or client_closed."""
    url = "/v1/chat/completions"
    auth = bearer(secrets["main"])
    if kind == "stream":
        async with client.stream("POST", url, json={**CHAT, "stream": True}, headers=auth) as r:
            if r.status_code != 200:
                return f"error:{r.status_code}"
            lines = [line async for line in r.aiter_lines() if line]
        assert lines[-1] == "data: [DONE]" and '"finish_reason":"stop"' in lines[-2]
        assert stream_text(lines) == " word" * WORDS
        return "complete"
    if kind == "json":
        response = await client.post(url, json=CHAT, headers=auth)
        if response.status_code != 200:
            assert is_contract_error(response.json())
            return f"error:{response.status_code}"
        assert response.json()["choices"][0]["message"]["content"] == " word" * WORDS
        return "complete"
    if kind == "drop_stream":
        async with client.stream("POST", url, json={**CHAT, "stream": True}, headers=auth) as r:
            if r.status_code != 200:
                return f"error:{r.status_code}"
            async for _line in r.aiter_lines():
                break  # the client walks away mid-stream
        return "client_closed"
    if kind == "drop_json":
        with contextlib.suppress(httpx.TimeoutException):
            response = await client.post(url, json=CHAT, headers=auth, timeout=0.02)
            return "complete" if response.status_code == 200 else f"error:{response.status_code}"
        return "client_closed"
    if kind == "limited":
        response = await client.post(url, json=CHAT, headers=bearer(secrets["limited"]))
    elif kind == "wrong_key":
        response = await client.post(url, json=CHAT, headers=bearer("sk-tera-nope"))
    else:  # invalid
        response = await client.post(url, content=b'{"model": 5', headers=auth)
    if response.status_code == 200:
        return "complete"
    assert is_contract_error(response.json()), response.text
    return f"error:{response.status_code}"


async def test_mixed_load_every_request_accounted_for(loaded: Any) -> None:
    running, secrets = loaded
    rng = random.Random(7)
    kinds = (
        ["stream"] * 90 + ["json"] * 90 + ["drop_stream"] * 40 + ["drop_json"] * 30
        + ["invalid"] * 30 + ["wrong_key"] * 10 + ["limited"] * 20
    )  # fmt: skip
    rng.shuffle(kinds)
    gate = asyncio.Semaphore(32)
    limits = httpx.Limits(max_connections=64)

    async with httpx.AsyncClient(base_url=running.base_url, timeout=30, limits=limits) as client:

        async def run(kind: str) -> tuple[str, str]:
            async with gate:
                return kind, await asyncio.wait_for(one_request(client, kind, secrets), 60)

        results = await asyncio.gather(*(run(kind) for kind in kinds))
    outcomes = Counter(outcome for _, outcome in results)
    by_kind = Counter(results)
    assert sum(outcomes.values()) == len(kinds) == 310
    assert set(outcomes) <= {"complete", "client_closed", "error:400", "error:401", "error:429"}
    assert by_kind[("stream", "complete")] == 90 and by_kind[("json", "complete")] == 90
    assert by_kind[("drop_stream", "client_closed")] == 40
    assert by_kind[("drop_json", "client_closed")] == 30
    assert by_kind[("invalid", "error:400")] == 30 and by_kind[("wrong_key", "error:401")] == 10
    assert by_kind[("limited", "complete")] == 10 and by_kind[("limited", "error:429")] == 10
    await settled(running)
    usage = running.context.security.limiter._usage
    assert all(u.concurrent == 0 for u in usage.values())


async def test_32_streams_8_dropped(loaded: Any) -> None:
    running, secrets = loaded
    async with httpx.AsyncClient(base_url=running.base_url, timeout=30) as client:
        kinds = ["drop_stream" if i % 4 == 0 else "stream" for i in range(32)]
        results = await asyncio.gather(*(one_request(client, k, secrets) for k in kinds))
    assert results.count("complete") == 24 and results.count("client_closed") == 8
    await settled(running)
