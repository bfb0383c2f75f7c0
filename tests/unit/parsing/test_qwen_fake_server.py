"""The Qwen parsers behind the real HTTP surface: tiny Qwen3 folder, scripted FakeEngine.

The model folder carries the real Qwen3 chat template, so family detection, the prompt's
thinking state and the parser choice all run as they would for a real Qwen3 model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fixtures.qwen3 import build_tiny_qwen3, qwen3_tokenizer
from tests.support.fake_app import FAKE_MODEL_ID, fake_server, scripted_text
from tests.unit.parsing.cases import WEATHER
from tests.unit.parsing.replay import tag_ids

OUTPUT = (
    "<think>\nThe user wants the weather in Paris.\n</think>\n\n"
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
)
BODY: dict[str, Any] = {
    "model": FAKE_MODEL_ID,
    "messages": [{"role": "user", "content": "Weather in Paris?"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}],
}


@pytest.fixture(scope="module")
def qwen_dir() -> Path:
    return build_tiny_qwen3()


def _stream_message(text: str) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    frames = [f.removeprefix("data: ") for f in text.split("\n\n") if f]
    assert frames[-1] == "[DONE]"
    message: dict[str, Any] = {"reasoning_content": "", "content": "", "tool_calls": {}}
    finish = None
    usage: dict[str, Any] = {}
    for frame in frames[:-1]:
        chunk = orjson.loads(frame)
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            delta = choice["delta"]
            finish = choice["finish_reason"] or finish
            message["reasoning_content"] += delta.get("reasoning_content", "")
            message["content"] += delta.get("content", "")
            for call in delta.get("tool_calls", []):
                entry = message["tool_calls"].setdefault(call["index"], {"arguments": ""})
                entry.update({k: call[k] for k in ("id",) if k in call})
                entry.update({k: v for k, v in call["function"].items() if k == "name"})
                entry["arguments"] += call["function"]["arguments"]
    return message, finish, usage


async def test_reasoning_and_tool_call_non_stream_and_stream(qwen_dir: Path) -> None:
    script = scripted_text(qwen3_tokenizer(), OUTPUT)
    async with fake_server(qwen_dir, script) as (client, _, _):
        whole = await client.post("/v1/chat/completions", json=BODY)
        streamed = await client.post(
            "/v1/chat/completions",
            json={**BODY, "stream": True, "stream_options": {"include_usage": True}},
        )
    assert whole.status_code == 200, whole.text
    choice = whole.json()["choices"][0]
    message = choice["message"]
    assert choice["finish_reason"] == "tool_calls"
    assert message["content"] is None
    assert message["reasoning_content"] == "The user wants the weather in Paris."
    [call] = message["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    usage = whole.json()["usage"]
    ids = qwen3_tokenizer().encode(OUTPUT, add_special_tokens=False)
    think_block = ids.index(tag_ids()["</think>"]) + 1 - ids.index(tag_ids()["<think>"])
    assert usage["completion_tokens_details"]["reasoning_tokens"] == think_block

    stream_message, finish, stream_usage = _stream_message(streamed.text)
    assert finish == "tool_calls"
    assert stream_message["reasoning_content"] == message["reasoning_content"]
    assert stream_message["content"] == ""
    assert stream_message["tool_calls"][0]["name"] == "get_weather"
    assert stream_message["tool_calls"][0]["arguments"] == call["function"]["arguments"]
    assert stream_usage == usage


async def test_disabled_thinking_strips_an_empty_block(qwen_dir: Path) -> None:
    script = scripted_text(qwen3_tokenizer(), "<think>\n\n</think>\n\nHello!")
    async with fake_server(qwen_dir, script) as (client, engine, _):
        r = await client.post(
            "/v1/chat/completions",
            json={
                "model": FAKE_MODEL_ID,
                "messages": [{"role": "user", "content": "hi"}],
                "chat_template_kwargs": {"enable_thinking": False},
            },
        )
    assert r.status_code == 200, r.text
    message = r.json()["choices"][0]["message"]
    assert message["content"] == "Hello!"
    assert message["reasoning_content"] is None
    prompt = qwen3_tokenizer().decode(list(engine.requests[0].prompt_token_ids))
    assert prompt.endswith("<think>\n\n</think>\n\n")


async def test_tool_choice_none_leaves_tool_text_in_content(qwen_dir: Path) -> None:
    script = scripted_text(qwen3_tokenizer(), OUTPUT)
    async with fake_server(qwen_dir, script) as (client, _, _):
        r = await client.post("/v1/chat/completions", json={**BODY, "tool_choice": "none"})
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]
    assert choice["message"]["content"].startswith("<tool_call>")
