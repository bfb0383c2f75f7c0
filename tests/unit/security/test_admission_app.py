"""Admission control through the in-process app: bounded running + queued, nothing hangs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.support.fake_app import FAKE_MODEL_ID, fake_server
from tests.unit.security.support import counting_script, is_contract_error

CHAT = {"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64}


def slow_server(smollm_dir: Path, **overrides: Any) -> Any:
    """fake_server whose every answer takes 13 steps of 50 ms."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(smollm_dir))
    return fake_server(
        smollm_dir,
        counting_script(tokenizer, 12),
        server_overrides=overrides,
        engine_kwargs={"step_delay_s": 0.05},
    )


async def test_ten_simultaneous_requests_capacity_two_plus_two(smollm_dir: Path) -> None:
    server = slow_server(
        smollm_dir, max_running_per_model=2, max_queued_per_model=2, queue_timeout_s=30
    )
    async with server as (client, engine, app):

        async def one(i: int) -> httpx.Response:
            body = {**CHAT, "stream": i % 2 == 0}
            return await client.post("/v1/chat/completions", json=body)

        responses = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(10))), 30)
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 4 + [503] * 6, statuses
        for response in responses:
            if response.status_code == 503:
                assert is_contract_error(response.json())
                assert response.json()["error"]["type"] == "service_unavailable"
                assert response.json()["error"]["code"] == "over_capacity"
                assert int(response.headers["retry-after"]) >= 1
        # The refused ones never reached tokenization or the engine.
        assert len(engine.requests) == 4
        security = app.state.context.security
        assert security.admission.busy() == 0 and security.in_flight == 0
        assert engine.unfinished_requests() == 0
        again = await client.post("/v1/chat/completions", json=CHAT)
        assert again.status_code == 200


async def test_queue_timeout_is_a_503(smollm_dir: Path) -> None:
    server = slow_server(
        smollm_dir, max_running_per_model=1, max_queued_per_model=1, queue_timeout_s=0.1
    )
    async with server as (client, _engine, app):
        responses = await asyncio.wait_for(
            asyncio.gather(*(client.post("/v1/chat/completions", json=CHAT) for _ in range(3))),
            30,
        )
        codes = sorted(
            r.json()["error"]["code"] if r.status_code == 503 else "ok" for r in responses
        )
        assert codes == ["ok", "over_capacity", "queue_timeout"]
        assert app.state.context.security.admission.busy() == 0


async def test_draining_refuses_new_work_with_503(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, _engine, app):
        app.state.context.draining = True
        response = await client.post("/v1/chat/completions", json=CHAT)
        assert response.status_code == 503 and is_contract_error(response.json())
        assert response.json()["error"]["code"] == "shutting_down"
        assert response.headers["retry-after"]
        assert (await client.get("/health")).json()["status"] == "draining"
