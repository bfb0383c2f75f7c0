"""Protocol rules with exact token sequences (scripted engine, in-process app)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from tera_serve.config import ModelConfig
from tera_serve.engine.base import EngineDeadError, EngineDelta, EngineRequest
from tests.support.fake_app import FAKE_MODEL_ID, fake_server

MESSAGES = [{"role": "user", "content": "hi"}]


def frames(text: str) -> list[Any]:
    parts = [f for f in text.split("\n\n") if f]
    assert parts[-1] == "data: [DONE]"
    return [orjson.loads(p.removeprefix("data: ")) for p in parts[:-1]]


def long_script(request: EngineRequest) -> Sequence[int]:
    return [1000 + i for i in range(5000)]


async def test_max_tokens_is_clamped_to_the_context_left(smollm_dir: Path) -> None:
    model = ModelConfig(
        model=str(smollm_dir), served_model_name=FAKE_MODEL_ID, max_output_length=4096
    )
    async with fake_server(
        smollm_dir, long_script, model=model, engine_kwargs={"max_model_len": 64}
    ) as (client, engine, _):
        r = await client.post(
            "/v1/chat/completions",
            json={"model": FAKE_MODEL_ID, "messages": MESSAGES, "max_tokens": 4000},
        )
        assert r.status_code == 200, r.text
        prompt_tokens = r.json()["usage"]["prompt_tokens"]
        assert engine.requests[-1].sampling.max_tokens == 64 - prompt_tokens
        assert r.json()["usage"]["completion_tokens"] == 64 - prompt_tokens
        assert r.json()["choices"][0]["finish_reason"] == "length"
        # No max_tokens: the model's maximum output, clamped the same way.
        r = await client.post(
            "/v1/chat/completions", json={"model": FAKE_MODEL_ID, "messages": MESSAGES}
        )
        assert engine.requests[-1].sampling.max_tokens == 64 - prompt_tokens


async def test_prompt_filling_the_context_is_refused(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir, engine_kwargs={"max_model_len": 16}) as (client, engine, _):
        r = await client.post(
            "/v1/chat/completions",
            json={"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": "word " * 50}]},
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "context_length_exceeded"
        assert engine.requests == []


async def test_error_after_stream_start_is_an_sse_error_then_done(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir, long_script) as (client, engine, _):
        original = engine.generate

        async def dies_midway(request: EngineRequest) -> AsyncIterator[EngineDelta]:
            count = 0
            async for delta in original(request):
                yield delta
                count += 1
                if count == 3:
                    raise EngineDeadError("boom")

        engine.generate = dies_midway  # type: ignore[method-assign]
        r = await client.post(
            "/v1/chat/completions",
            json={"model": FAKE_MODEL_ID, "messages": MESSAGES, "stream": True},
        )
        assert r.status_code == 200
        chunks = frames(r.text)
        assert chunks[-1]["error"]["type"] == "server_error"
        assert chunks[-1]["error"]["code"] == "engine_dead"
        assert any(
            c.get("choices") and c["choices"][0]["delta"].get("content") for c in chunks[:-1]
        )


async def test_request_timeout_stream_and_non_stream(smollm_dir: Path) -> None:
    overrides = {"request_timeout_s": 0.3}
    async with fake_server(
        smollm_dir, long_script, server_overrides=overrides, engine_kwargs={"step_delay_s": 0.05}
    ) as (client, engine, _):
        body = {"model": FAKE_MODEL_ID, "messages": MESSAGES, "max_tokens": 1000}
        whole = await client.post("/v1/chat/completions", json=body)
        assert whole.status_code == 504 and whole.json()["error"]["code"] == "timeout"
        streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
        assert streamed.status_code == 200
        assert frames(streamed.text)[-1]["error"]["code"] == "timeout"
        await asyncio.sleep(0.05)
        assert engine.unfinished_requests() == 0


async def test_n_choices_stream_interleaved_with_role_first_and_one_final_each(
    smollm_dir: Path,
) -> None:
    async with fake_server(smollm_dir) as (client, _engine, _):
        r = await client.post(
            "/v1/chat/completions",
            json={
                "model": FAKE_MODEL_ID,
                "messages": MESSAGES,
                "n": 3,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
        chunks = frames(r.text)
        per_choice: dict[int, list[dict[str, Any]]] = {}
        for chunk in chunks[:-1]:
            (choice,) = chunk["choices"]
            per_choice.setdefault(choice["index"], []).append(choice)
        assert sorted(per_choice) == [0, 1, 2]
        for choices in per_choice.values():
            assert choices[0]["delta"]["role"] == "assistant"
            assert [c["finish_reason"] for c in choices].count("stop") == 1
            assert choices[-1]["delta"] == {} and choices[-1]["finish_reason"] == "stop"
            assert "".join(c["delta"].get("content", "") for c in choices) == "Hello there, friend."
        whole = await client.post(
            "/v1/chat/completions", json={"model": FAKE_MODEL_ID, "messages": MESSAGES, "n": 3}
        )
        assert chunks[-1]["choices"] == []
        assert chunks[-1]["usage"] == whole.json()["usage"]
        completion = whole.json()["usage"]["completion_tokens"]
        assert completion % 3 == 0 and completion > 3


async def test_seeded_choices_get_distinct_seeds(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        await client.post(
            "/v1/chat/completions",
            json={"model": FAKE_MODEL_ID, "messages": MESSAGES, "n": 2, "seed": 41},
        )
        assert [r.sampling.seed for r in engine.requests] == [41, 42]


async def test_model_sampling_defaults_apply_when_the_request_is_silent(smollm_dir: Path) -> None:
    model = ModelConfig(
        model=str(smollm_dir),
        served_model_name=FAKE_MODEL_ID,
        default_sampling={"temperature": 0.3, "top_k": 5},
    )
    async with fake_server(smollm_dir, model=model) as (client, engine, _):
        await client.post(
            "/v1/chat/completions", json={"model": FAKE_MODEL_ID, "messages": MESSAGES}
        )
        assert (engine.requests[-1].sampling.temperature, engine.requests[-1].sampling.top_k) == (
            0.3,
            5,
        )
        await client.post(
            "/v1/chat/completions",
            json={"model": FAKE_MODEL_ID, "messages": MESSAGES, "temperature": 1.5},
        )
        assert engine.requests[-1].sampling.temperature == 1.5


async def test_completions_stream_and_fold_agree(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, _engine, _):
        body = {"model": FAKE_MODEL_ID, "prompt": ["a", "b"], "n": 2, "max_tokens": 50}
        whole = (await client.post("/v1/completions", json=body)).json()
        assert [c["index"] for c in whole["choices"]] == [0, 1, 2, 3]
        streamed = frames(
            (await client.post("/v1/completions", json={**body, "stream": True})).text
        )
        texts: dict[int, str] = {}
        for chunk in streamed:
            for choice in chunk["choices"]:
                texts[choice["index"]] = texts.get(choice["index"], "") + choice["text"]
        assert texts == {c["index"]: c["text"] for c in whole["choices"]}
