from __future__ import annotations

import orjson

from tests.support.fake_app import FAKE_MODEL_ID, fake_server


async def test_non_stream_chat(smollm_dir):
    async with fake_server(smollm_dir) as (client, _engine, _):
        r = await client.post(
            "/v1/chat/completions",
            json={"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["choices"][0]["message"]["content"] == "Hello there, friend."
        assert body["choices"][0]["finish_reason"] == "stop"
        assert r.headers["x-tera-request-id"]


async def test_stream_chat(smollm_dir):
    async with fake_server(smollm_dir) as (client, engine, _):
        r = await client.post(
            "/v1/chat/completions",
            json={
                "model": FAKE_MODEL_ID,
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
        frames = [f for f in r.text.split("\n\n") if f]
        assert frames[-1] == "data: [DONE]"
        chunks = [orjson.loads(f.removeprefix("data: ")) for f in frames[:-1]]
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        assert text == "Hello there, friend."
        assert chunks[-2]["choices"][0]["delta"] == {}
        assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
        assert chunks[-1]["choices"] == []
        usage = chunks[-1]["usage"]
        assert usage["prompt_tokens"] == len(engine.requests[0].prompt_token_ids)
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
