"""Server options through the in-process app: both reasoning field names, and warm-up."""

from __future__ import annotations

from pathlib import Path

import orjson

from tera_serve.config import ModelConfig
from tests.support.fake_app import FAKE_MODEL_ID, fake_server, scripted_text

THOUGHT = "<think>\nLet me think.\n</think>\n\nThe answer."
BODY = {"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": "q"}]}


async def test_emit_both_reasoning_field_names(tiny_qwen3_dir: Path) -> None:
    from tests.fixtures.qwen3 import qwen3_tokenizer

    script = scripted_text(qwen3_tokenizer(), THOUGHT)
    async with fake_server(
        tiny_qwen3_dir, script, server_overrides={"emit_both_reasoning_fields": True}
    ) as (client, _, _):
        message = (await client.post("/v1/chat/completions", json=BODY)).json()["choices"][0][
            "message"
        ]
        assert message["reasoning"] == message["reasoning_content"] == "Let me think."
        assert message["content"] == "The answer."
        streamed = (await client.post("/v1/chat/completions", json={**BODY, "stream": True})).text
        fields = {"reasoning": "", "reasoning_content": "", "content": ""}
        for frame in streamed.split("\n\n"):
            if frame.startswith("data: {"):
                delta = orjson.loads(frame[6:])["choices"][0]["delta"]
                for name in fields:
                    fields[name] += delta.get(name, "")
        assert fields == {
            "reasoning": "Let me think.",
            "reasoning_content": "Let me think.",
            "content": "The answer.",
        }
    async with fake_server(tiny_qwen3_dir, script) as (client, _, _):
        message = (await client.post("/v1/chat/completions", json=BODY)).json()["choices"][0][
            "message"
        ]
        assert "reasoning" not in message and message["reasoning_content"] == "Let me think."


async def test_warmup_runs_one_generation_before_ready(smollm_dir: Path) -> None:
    model = ModelConfig(model=str(smollm_dir), served_model_name=FAKE_MODEL_ID, warmup=True)
    async with fake_server(smollm_dir, model=model) as (client, engine, _):
        assert [r.request_id for r in engine.requests] == [f"warmup-{FAKE_MODEL_ID}"]
        assert engine.requests[0].sampling.max_tokens == 8
        assert (await client.get("/health")).status_code == 200
    async with fake_server(smollm_dir) as (_client, engine, _):
        assert engine.requests == []
