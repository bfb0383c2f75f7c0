"""`max_tokens` is a ceiling on every protocol (DESIGN rules 2 and 11): a value above the
model's maximum output, or above what the context leaves, is clamped, never refused; a
clamped request cut at the limit ends as any other request cut at its max_tokens."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from tera_serve.config import ModelConfig
from tera_serve.engine.base import EngineRequest
from tera_serve.errors import ContextLengthExceededError
from tera_serve.service.sampling import fit_max_tokens
from tests.support.fake_app import FAKE_MODEL_ID, fake_server

MAX_OUTPUT = 8
ASKED = 32000
"""What Claude Code sends for a model it does not know."""
MESSAGES = [{"role": "user", "content": "hi"}]


def endless(request: EngineRequest) -> Sequence[int]:
    return [1000 + i for i in range(500)]


def capped_model(smollm_dir: Path) -> ModelConfig:
    """A catalog-style config with its own maximum output."""
    return ModelConfig(
        model=str(smollm_dir), served_model_name=FAKE_MODEL_ID, max_output_length=MAX_OUTPUT
    )


def sse_data(text: str) -> list[Any]:
    """Every `data:` payload of an SSE body but `[DONE]`."""
    out = []
    for frame in text.split("\n\n"):
        for line in frame.split("\n"):
            if line.startswith("data: ") and line != "data: [DONE]":
                out.append(orjson.loads(line.removeprefix("data: ")))
    return out


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(None, 8), (3, 3), (8, 8), (9, 8), (ASKED, 8)],
)
def test_fit_clamps_to_the_maximum_output(requested: int | None, expected: int) -> None:
    assert (
        fit_max_tokens(requested, prompt_tokens=10, context_length=100, max_output_length=8)
        == expected
    )


@pytest.mark.parametrize(("requested", "expected"), [(None, 5), (4, 4), (6, 5), (ASKED, 5)])
def test_fit_clamps_to_the_context_left(requested: int | None, expected: int) -> None:
    assert (
        fit_max_tokens(requested, prompt_tokens=95, context_length=100, max_output_length=8)
        == expected
    )


def test_fit_refuses_only_a_prompt_that_leaves_no_room() -> None:
    with pytest.raises(ContextLengthExceededError) as caught:
        fit_max_tokens(
            ASKED, prompt_tokens=100, context_length=100, max_output_length=8, prompt_param="input"
        )
    assert caught.value.param == "input"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("stream", [False, True])
async def test_chat_clamps_to_the_maximum_output(
    smollm_dir: Path, field: str, stream: bool
) -> None:
    async with fake_server(smollm_dir, endless, model=capped_model(smollm_dir)) as (
        client,
        engine,
        _,
    ):
        body = {"model": FAKE_MODEL_ID, "messages": MESSAGES, field: ASKED, "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        r = await client.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        assert engine.requests[-1].sampling.max_tokens == MAX_OUTPUT
        if stream:
            chunks = sse_data(r.text)
            finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
            assert finishes[-1] == "length"
            usage = chunks[-1]["usage"]
        else:
            assert r.json()["choices"][0]["finish_reason"] == "length"
            usage = r.json()["usage"]
        assert usage["completion_tokens"] == MAX_OUTPUT


async def test_completions_clamp_to_the_maximum_output(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir, endless, model=capped_model(smollm_dir)) as (
        client,
        engine,
        _,
    ):
        r = await client.post(
            "/v1/completions",
            json={"model": FAKE_MODEL_ID, "prompt": ["One,", "Red,"], "max_tokens": ASKED},
        )
        assert r.status_code == 200, r.text
        assert [q.sampling.max_tokens for q in engine.requests] == [MAX_OUTPUT, MAX_OUTPUT]
        assert [c["finish_reason"] for c in r.json()["choices"]] == ["length", "length"]
        assert r.json()["usage"]["completion_tokens"] == 2 * MAX_OUTPUT


@pytest.mark.parametrize("stream", [False, True])
async def test_messages_clamp_to_the_maximum_output(smollm_dir: Path, stream: bool) -> None:
    async with fake_server(smollm_dir, endless, model=capped_model(smollm_dir)) as (
        client,
        engine,
        _,
    ):
        r = await client.post(
            "/v1/messages",
            json={
                "model": FAKE_MODEL_ID,
                "max_tokens": ASKED,
                "messages": MESSAGES,
                "stream": stream,
            },
        )
        assert r.status_code == 200, r.text
        assert engine.requests[-1].sampling.max_tokens == MAX_OUTPUT
        if stream:
            (delta,) = [e for e in sse_data(r.text) if e["type"] == "message_delta"]
            stop_reason, usage = delta["delta"]["stop_reason"], delta["usage"]
        else:
            stop_reason, usage = r.json()["stop_reason"], r.json()["usage"]
        assert stop_reason == "max_tokens"
        assert usage["output_tokens"] == MAX_OUTPUT


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_clamp_to_the_maximum_output(smollm_dir: Path, stream: bool) -> None:
    async with fake_server(smollm_dir, endless, model=capped_model(smollm_dir)) as (
        client,
        engine,
        _,
    ):
        r = await client.post(
            "/v1/responses",
            json={
                "model": FAKE_MODEL_ID,
                "input": "hi",
                "max_output_tokens": ASKED,
                "stream": stream,
            },
        )
        assert r.status_code == 200, r.text
        assert engine.requests[-1].sampling.max_tokens == MAX_OUTPUT
        if stream:
            last = sse_data(r.text)[-1]
            assert last["type"] == "response.incomplete"
            response = last["response"]
        else:
            response = r.json()
        assert response["status"] == "incomplete"
        assert response["incomplete_details"] == {"reason": "max_output_tokens"}
        assert response["usage"]["output_tokens"] == MAX_OUTPUT


async def test_a_model_without_a_catalog_config_gets_its_context_as_maximum_output(
    smollm_dir: Path,
) -> None:
    """As `vllm serve`: no 4,096 cap of its own, only what the context leaves."""
    context = 6000
    async with fake_server(smollm_dir, endless, engine_kwargs={"max_model_len": context}) as (
        client,
        engine,
        _,
    ):
        (card,) = (await client.get("/v1/models")).json()["data"]
        assert card["max_output_length"] == context
        r = await client.post(
            "/v1/chat/completions", json={"model": FAKE_MODEL_ID, "messages": MESSAGES}
        )
        assert r.status_code == 200, r.text
        room = context - r.json()["usage"]["prompt_tokens"]
        assert room > 4096
        assert engine.requests[-1].sampling.max_tokens == room
        r = await client.post(
            "/v1/chat/completions",
            json={"model": FAKE_MODEL_ID, "messages": MESSAGES, "max_tokens": ASKED},
        )
        assert r.status_code == 200, r.text
        assert engine.requests[-1].sampling.max_tokens == room


async def test_the_catalog_limit_is_what_v1_models_advertises(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir, model=capped_model(smollm_dir)) as (client, _engine, _):
        (card,) = (await client.get("/v1/models")).json()["data"]
        assert card["max_output_length"] == MAX_OUTPUT
