"""Echo, prompt logprobs, continuous usage and cached tokens through the in-process app
(scripted engine: its logprobs are made up but deterministic per position and token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tera_serve.core.logprobs import PositionLogprobs, TokenLogprob
from tera_serve.service.prompt_scoring import legacy_logprobs
from tests.support.fake_app import FAKE_MODEL_ID, fake_server

PROMPT = "The quick brown fox jumps over the lazy dog"
ANSWER = "Hello there, friend."


def frames(text: str) -> list[Any]:
    parts = [f for f in text.split("\n\n") if f]
    assert parts[-1] == "data: [DONE]"
    return [orjson.loads(p.removeprefix("data: ")) for p in parts[:-1]]


def completion(**fields: Any) -> dict[str, Any]:
    return {"model": FAKE_MODEL_ID, "prompt": PROMPT, "temperature": 0, **fields}


def merged_stream_logprobs(chunks: list[Any]) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {
        "tokens": [],
        "token_logprobs": [],
        "top_logprobs": [],
        "text_offset": [],
    }
    for chunk in chunks:
        for choice in chunk["choices"]:
            for key in merged:
                merged[key] += (choice["logprobs"] or {}).get(key, [])
    return merged


def test_legacy_logprobs_first_prompt_position_is_null() -> None:
    token = TokenLogprob("b", -0.5, (98,), token_id=2, rank=1)
    shaped = legacy_logprobs([None, PositionLogprobs(token, (token,))], 0, first_token="a")
    assert shaped == {
        "tokens": ["a", "b"],
        "token_logprobs": [None, -0.5],
        "top_logprobs": [None, {"b": -0.5}],
        "text_offset": [0, 1],
    }


async def test_echo_prepends_the_prompt_and_its_logprobs(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        prompt_ids = engine._tokenizer.encode(PROMPT)
        body = (await client.post("/v1/completions", json=completion(echo=True, logprobs=2))).json()
        (choice,) = body["choices"]
        assert choice["text"] == PROMPT + ANSWER
        lp = choice["logprobs"]
        generated = body["usage"]["completion_tokens"]
        assert len(lp["tokens"]) == len(prompt_ids) + generated
        assert {len(lp[k]) for k in lp} == {len(lp["tokens"])}
        assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
        assert all(isinstance(v, float) for v in lp["token_logprobs"][1:])
        assert all(len(top) == 2 for top in lp["top_logprobs"][1:])
        assert "".join(lp["tokens"][: len(prompt_ids)]) == PROMPT
        assert lp["text_offset"] == [
            len("".join(lp["tokens"][:i])) for i in range(len(lp["tokens"]))
        ]
        assert body["usage"]["prompt_tokens"] == len(prompt_ids)


async def test_echo_without_logprobs_and_for_token_id_prompts(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        ids = engine._tokenizer.encode(PROMPT)
        plain = (await client.post("/v1/completions", json=completion(echo=True))).json()
        assert plain["choices"][0]["text"] == PROMPT + ANSWER
        assert plain["choices"][0]["logprobs"] is None
        by_ids = (
            await client.post("/v1/completions", json=completion(prompt=[ids, ids[:3]], echo=True))
        ).json()
        texts = [c["text"] for c in by_ids["choices"]]
        assert texts == [PROMPT + ANSWER, engine._tokenizer.decode(ids[:3]) + ANSWER]


async def test_echo_stream_sends_the_prompt_first_and_matches_the_fold(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, _engine, _):
        fields = completion(echo=True, logprobs=1, n=2)
        whole = (await client.post("/v1/completions", json=fields)).json()
        chunks = frames(
            (await client.post("/v1/completions", json={**fields, "stream": True})).text
        )
        for index in (0, 1):
            mine = [c for c in chunks if c["choices"] and c["choices"][0]["index"] == index]
            assert mine[0]["choices"][0]["text"].startswith(PROMPT)
            assert "".join(c["choices"][0]["text"] for c in mine) == PROMPT + ANSWER
            folded = whole["choices"][index]["logprobs"]
            assert merged_stream_logprobs(mine) == folded


async def test_max_tokens_zero_scores_the_prompt_alone(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        n_prompt = len(engine._tokenizer.encode(PROMPT))
        for stream in (False, True):
            r = await client.post(
                "/v1/completions",
                json=completion(echo=True, logprobs=0, max_tokens=0, stream=stream)
                | ({"stream_options": {"include_usage": True}} if stream else {}),
            )
            assert r.status_code == 200, r.text
            if stream:
                chunks = frames(r.text)
                usage = chunks[-1]["usage"]
                text = "".join(c["choices"][0]["text"] for c in chunks[:-1])
                lp = merged_stream_logprobs(chunks[:-1])
                finish = chunks[-2]["choices"][0]["finish_reason"]
            else:
                body = r.json()
                usage, (choice,) = body["usage"], body["choices"]
                text, lp, finish = choice["text"], choice["logprobs"], choice["finish_reason"]
            assert text == PROMPT and finish == "length"
            assert (usage["prompt_tokens"], usage["completion_tokens"]) == (n_prompt, 0)
            assert len(lp["tokens"]) == n_prompt and lp["token_logprobs"][0] is None
        assert engine.requests[-1].sampling.max_tokens == 0
        refused = await client.post("/v1/completions", json=completion(max_tokens=0))
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "max_tokens"


async def test_prompt_scored_by_echo_matches_its_generation(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        generated = (await client.post("/v1/completions", json=completion(logprobs=0))).json()
        gen = generated["choices"][0]
        prompt_ids = engine._tokenizer.encode(PROMPT)
        assert list(engine.requests[-1].prompt_token_ids) == prompt_ids
        full_ids = prompt_ids + engine._tokenizer.encode(ANSWER, add_special_tokens=False)
        scored = (
            await client.post(
                "/v1/completions",
                json=completion(prompt=full_ids, echo=True, logprobs=0, max_tokens=0),
            )
        ).json()
        scored_lp = scored["choices"][0]["logprobs"]["token_logprobs"][len(prompt_ids) :]
        gen_lp = gen["logprobs"]["token_logprobs"][: len(scored_lp)]
        assert scored_lp == pytest.approx(gen_lp, abs=1e-4)


async def test_prompt_logprobs_in_vllm_shape(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        ids = engine._tokenizer.encode(PROMPT)
        body = (await client.post("/v1/completions", json=completion(prompt_logprobs=2))).json()
        plp = body["choices"][0]["prompt_logprobs"]
        assert len(plp) == len(ids) and plp[0] is None
        for token_id, position in zip(ids[1:], plp[1:], strict=True):
            assert str(token_id) in position and len(position) <= 3
            assert set(position[str(token_id)]) == {"logprob", "rank", "decoded_token"}
        assert body["choices"][0]["text"] == ANSWER  # no echo: the text is the answer alone
        chat = (
            await client.post(
                "/v1/chat/completions",
                json={
                    "model": FAKE_MODEL_ID,
                    "messages": [{"role": "user", "content": "hi"}],
                    "prompt_logprobs": 0,
                },
            )
        ).json()
        assert len(chat["prompt_logprobs"]) == chat["usage"]["prompt_tokens"]
        assert chat["prompt_logprobs"][0] is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"suffix": " and then"}, "suffix"),
        ({"prompt_logprobs": 21}, "prompt_logprobs"),
        ({"prompt_logprobs": 1, "stream": True}, "prompt_logprobs"),
        ({"prompt_logprobs": -1}, "prompt_logprobs"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
async def test_refused_fields(smollm_dir: Path, fields: dict[str, Any], param: str) -> None:
    async with fake_server(smollm_dir) as (client, _engine, _):
        r = await client.post("/v1/completions", json=completion(**fields))
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param


async def test_continuous_usage_grows_by_each_chunks_tokens(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        n_prompt = len(engine._tokenizer.encode(PROMPT))
        options = {"include_usage": True, "continuous_usage_stats": True}
        r = await client.post(
            "/v1/completions",
            json=completion(logprobs=0, stream=True, stream_options=options),
        )
        chunks = frames(r.text)
        seen = 0
        for chunk in chunks[:-1]:
            usage, (choice,) = chunk["usage"], chunk["choices"]
            seen += len(choice["logprobs"]["tokens"]) if choice["logprobs"] else 0
            assert usage == {
                "prompt_tokens": n_prompt,
                "completion_tokens": seen,
                "total_tokens": n_prompt + seen,
            }
        assert chunks[-1]["usage"]["completion_tokens"] == seen > 0
        chat = frames(
            (
                await client.post(
                    "/v1/chat/completions",
                    json={
                        "model": FAKE_MODEL_ID,
                        "messages": [{"role": "user", "content": "hi"}],
                        "stream": True,
                        "stream_options": {"continuous_usage_stats": True},
                    },
                )
            ).text
        )
        counts = [c["usage"]["completion_tokens"] for c in chat]
        assert all(c["choices"] for c in chat)  # no final usage chunk without include_usage
        assert counts == sorted(counts) and counts[0] == 1
        assert counts[-1] == len(engine._tokenizer.encode(ANSWER, add_special_tokens=False)) + 1


async def test_cached_tokens_in_usage_and_metrics(smollm_dir: Path) -> None:
    shared = " ".join(["a long shared system preamble"] * 20)
    async with fake_server(smollm_dir, engine_kwargs={"prefix_caching": True}) as (
        client,
        _engine,
        _,
    ):
        first = (
            await client.post("/v1/completions", json=completion(prompt=shared + " one"))
        ).json()
        second = (
            await client.post("/v1/completions", json=completion(prompt=shared + " two"))
        ).json()
        assert first["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
        cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
        assert 0 < cached < second["usage"]["prompt_tokens"]
        chat_fields = {
            "model": FAKE_MODEL_ID,
            "messages": [{"role": "user", "content": shared}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        await client.post("/v1/chat/completions", json=chat_fields)
        chat = frames((await client.post("/v1/chat/completions", json=chat_fields)).text)
        chat_cached = chat[-1]["usage"]["prompt_tokens_details"]["cached_tokens"]
        assert chat_cached > 0
        metrics = (await client.get("/metrics")).text
        line = next(
            x for x in metrics.splitlines() if x.startswith("tera_cached_prompt_tokens_total{")
        )
        assert float(line.split()[-1]) == cached + chat_cached
