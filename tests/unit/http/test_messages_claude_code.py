"""Claude Code 2.1.332's own request bodies (captured on the wire, tests/fixtures/wire/)
through the real Messages routes on the scripted engine, with the Qwen3 tokenizer and
template: every one a 200, the system message after the first user turn in the prompt,
thinking blocks as `display: "omitted"` asks, and the billing header kept out of the
prompt so the second turn reads its prefix from the cache."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from tera_serve.engine.base import EngineRequest
from tests.support.fake_app import FAKE_MODEL_ID, fake_server

WIRE = Path(__file__).parents[2] / "fixtures" / "wire"
THOUGHT = "I should list the files."
ANSWER = "Hello from the scripted model."
CALL = '<tool_call>\n{"name": "Bash", "arguments": {"command": "ls"}}\n</tool_call>'
ENGINE = {"max_model_len": 32768, "prefix_caching": True}


def _capture(name: str) -> dict[str, Any]:
    capture: dict[str, Any] = json.loads((WIRE / f"claude-code-2.1.332-{name}.json").read_text())
    capture["body"]["model"] = FAKE_MODEL_ID
    # The body's length is the client's to set again (the model name changed).
    capture["headers"] = {
        k: v for k, v in capture["headers"].items() if k.lower() not in ("content-length",)
    }
    return capture


def _script() -> Any:
    from tests.fixtures.qwen3 import qwen3_tokenizer

    tokenizer = qwen3_tokenizer()

    def ids(text: str) -> list[int]:
        return [*tokenizer.encode(text, add_special_tokens=False), tokenizer.eos_token_id]

    first, second = ids(f"<think>\n{THOUGHT}\n</think>\n\n{CALL}"), ids(ANSWER)

    def script(request: EngineRequest) -> Sequence[int]:
        prompt = tokenizer.decode(request.prompt_token_ids)
        return second if "<tool_response>" in prompt else first

    return script


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in text.split("\n\n"):
        if frame:
            event, data = frame.split("\n", 1)
            out.append((event.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))))
    return out


def _prompt(request: EngineRequest) -> str:
    from tests.fixtures.qwen3 import qwen3_tokenizer

    text: str = qwen3_tokenizer().decode(request.prompt_token_ids)
    return text


async def test_first_turn_streams_a_tool_call_with_omitted_thinking(tiny_qwen3_dir: Path) -> None:
    capture = _capture("first-turn")
    assert capture["path"] == "/v1/messages?beta=true" and capture["body"]["stream"] is True
    async with fake_server(tiny_qwen3_dir, _script(), engine_kwargs=ENGINE) as (client, engine, _):
        r = await client.post(capture["path"], headers=capture["headers"], json=capture["body"])
        assert r.status_code == 200, r.text
        events = _events(r.text)
        # The system message after the user turn reached the prompt (the family places it).
        prompt = _prompt(engine.requests[-1])
        environment = capture["body"]["messages"][1]["content"][0]["text"]
        assert "say hello" in prompt and environment in prompt
        assert "x-anthropic-billing-header" not in prompt
    starts = [data["content_block"] for name, data in events if name == "content_block_start"]
    assert starts[0] == {"type": "thinking", "thinking": "", "signature": ""}
    assert starts[1]["type"] == "tool_use" and starts[1]["name"] == "Bash"
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert "thinking_delta" not in [d["type"] for d in deltas]
    assert deltas[0]["type"] == "signature_delta" and deltas[0]["signature"]
    arguments = "".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta")
    assert json.loads(arguments) == {"command": "ls"}
    (end,) = [data for name, data in events if name == "message_delta"]
    assert end["delta"]["stop_reason"] == "tool_use"
    assert [name for name, _ in events][-1] == "message_stop"


async def test_tool_result_turn_answers_and_reads_the_prompt_from_the_cache(
    tiny_qwen3_dir: Path,
) -> None:
    first, second = _capture("first-turn"), _capture("tool-result")
    # Claude Code's billing header changes between requests; the prompt must not.
    second["body"]["system"][0]["text"] = "x-anthropic-billing-header: cc_version=2.1.332.9f0;"
    result = second["body"]["messages"][2]["content"][0]
    assert result["cache_control"] == {"type": "ephemeral"} and result["is_error"] is False
    async with fake_server(tiny_qwen3_dir, _script(), engine_kwargs=ENGINE) as (client, engine, _):
        r1 = await client.post(first["path"], headers=first["headers"], json=first["body"])
        r2 = await client.post(second["path"], headers=second["headers"], json=second["body"])
        assert (r1.status_code, r2.status_code) == (200, 200), r2.text
        one, two = (request.prompt_token_ids for request in engine.requests[-2:])
        assert "(Bash completed with no output)" in _prompt(engine.requests[-1])
    events = _events(r2.text)
    text = "".join(
        data["delta"]["text"]
        for name, data in events
        if name == "content_block_delta" and data["delta"]["type"] == "text_delta"
    )
    assert text == ANSWER
    (end,) = [data for name, data in events if name == "message_delta"]
    assert end["delta"]["stop_reason"] == "end_turn"
    usage = end["usage"]
    shared = next(i for i, (a, b) in enumerate(zip(one, two, strict=False)) if a != b)
    assert shared > 1000  # system prompt and tools: the first difference is the turns'
    assert usage["cache_read_input_tokens"] == shared - shared % 16
    assert usage["input_tokens"] + usage["cache_read_input_tokens"] == len(two)


async def test_billing_header_alone_leaves_the_prompt_ids_unchanged(tiny_qwen3_dir: Path) -> None:
    body = _capture("first-turn")["body"]
    other = copy.deepcopy(body)
    other["system"][0]["text"] = "x-anthropic-billing-header: cc_version=2.1.333.0ab; cch=42;"
    async with fake_server(tiny_qwen3_dir, _script(), engine_kwargs=ENGINE) as (client, engine, _):
        for sent in (body, other):
            r = await client.post("/v1/messages", json={**sent, "stream": False})
            assert r.status_code == 200, r.text
        assert engine.requests[-2].prompt_token_ids == engine.requests[-1].prompt_token_ids
        usage = r.json()["usage"]
        assert usage["cache_read_input_tokens"] > 0
    thinking = r.json()["content"][0]
    assert thinking["type"] == "thinking" and thinking["thinking"] == ""
    assert thinking["signature"]


@pytest.mark.parametrize("name", ["first-turn", "tool-result"])
async def test_count_tokens_takes_the_same_bodies(tiny_qwen3_dir: Path, name: str) -> None:
    capture = _capture(name)
    path = capture["path"].replace("/v1/messages", "/v1/messages/count_tokens")
    async with fake_server(tiny_qwen3_dir, _script(), engine_kwargs=ENGINE) as (client, engine, _):
        counted = await client.post(path, headers=capture["headers"], json=capture["body"])
        assert counted.status_code == 200, counted.text
        body = {**capture["body"], "stream": False}
        answered = await client.post(capture["path"], headers=capture["headers"], json=body)
        assert answered.status_code == 200, answered.text
        prompt = len(engine.requests[-1].prompt_token_ids)
    assert counted.json() == {"input_tokens": prompt}
