"""Codex CLI's Responses requests through the real route (tiny Qwen3 on the real template,
scripted FakeEngine): its captured first turn is served, hosted tools left out and named;
namespaced and custom calls come back split; sealed reasoning survives a stateless replay."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.responses import Response

from tera_serve.config import ModelConfig
from tera_serve.engine.base import StructuredConstraint
from tera_serve.http.route_support import OMITTED_TOOLS_HEADER
from tests.fixtures.qwen3 import build_tiny_qwen3, qwen3_tokenizer
from tests.support.fake_app import FAKE_MODEL_ID, fake_server, scripted_text

FIXTURE = Path(__file__).parents[2] / "fixtures/wire/codex-0.171.0-first-turn.json"
CODEX = {**json.loads(FIXTURE.read_text())["body"], "model": FAKE_MODEL_ID}
PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+Hello "world"\n*** End Patch\n'
LONG = {"max_model_len": 32768}
LARK = 'start: "*** Begin Patch" LF line+ "*** End Patch" LF?\nline: /.+/ LF\n%import common.LF'


@pytest.fixture(scope="module")
def qwen_dir() -> Path:
    return build_tiny_qwen3()


def _server(folder: Path, script: Any) -> Any:
    return fake_server(folder, script, engine_kwargs=LONG)  # Codex's prompt is 8k tokens


def _events(text: str) -> list[dict[str, Any]]:
    frames = [f for f in text.split("\n\n") if f]
    return [orjson.loads(f.split("\ndata: ", 1)[1]) for f in frames]


def _call(name: str, arguments: dict[str, Any]) -> str:
    call = json.dumps({"name": name, "arguments": arguments})
    return f"<think>\nI will call it.\n</think>\n\n<tool_call>\n{call}\n</tool_call>"


def _prompt(engine: Any) -> str:
    return str(qwen3_tokenizer().decode(engine.requests[-1].prompt_token_ids))


async def test_codex_first_turn_is_served_with_web_search_left_out(
    qwen_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = scripted_text(qwen3_tokenizer(), "<think>\nHi.\n</think>\n\nHello!")
    async with _server(qwen_dir, script) as (client, engine, _):
        with caplog.at_level(logging.INFO, logger="tera_serve.http.route_support"):
            answer = await client.post("/v1/responses", json=CODEX)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers[OMITTED_TOOLS_HEADER] == "web_search"
        events = _events(answer.text)
        assert events[-1]["type"] == "response.completed"
        final = Response.model_validate(events[-1]["response"])
        assert final.output_text == "Hello!"
        (reasoning,) = [item for item in final.output if item.type == "reasoning"]
        assert reasoning.encrypted_content  # Codex asked for it
        prompt = _prompt(engine)
    # Codex offers web_search every turn: an INFO line, not a warning (the header says it).
    notes = [r for r in caplog.records if "left out" in r.getMessage()]
    assert len(notes) == 1 and "web_search" in notes[0].getMessage()
    assert notes[0].levelno == logging.INFO
    request_id = answer.headers["x-tera-request-id"]
    assert request_id in notes[0].getMessage()
    # The namespaced tools reach the model as namespace.name, both developer messages too.
    assert '"name": "multi_agent_v1.close_agent"' in prompt and "web_search" not in prompt
    assert "You are a coding agent running in the Codex CLI" in prompt
    assert "<skills_instructions>" in prompt


async def test_the_header_is_on_a_whole_body_too_and_absent_without_hosted_tools(
    qwen_dir: Path,
) -> None:
    async with _server(qwen_dir, scripted_text(qwen3_tokenizer(), "ok")) as (client, _, _):
        body = {**CODEX, "stream": False, "tools": [{"type": "file_search"}, {"type": "mcp"}]}
        whole = await client.post("/v1/responses", json=body)
        assert whole.status_code == 200, whole.text
        assert whole.headers[OMITTED_TOOLS_HEADER] == "file_search, mcp"
        plain = await client.post("/v1/responses", json={**body, "tools": []})
        assert OMITTED_TOOLS_HEADER not in plain.headers
        forced = {**body, "tool_choice": {"type": "file_search"}}
        refused = await client.post("/v1/responses", json=forced)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "tool_choice"


async def test_a_namespaced_call_comes_back_split_and_replays(qwen_dir: Path) -> None:
    output = _call("multi_agent_v1.close_agent", {"target": "a1"})
    async with _server(qwen_dir, scripted_text(qwen3_tokenizer(), output)) as (client, eng, _):
        whole = await client.post("/v1/responses", json={**CODEX, "stream": False})
        assert whole.status_code == 200, whole.text
        (call,) = [item for item in whole.json()["output"] if item["type"] == "function_call"]
        assert (call["namespace"], call["name"]) == ("multi_agent_v1", "close_agent")
        assert json.loads(call["arguments"]) == {"target": "a1"}
        replay = [*CODEX["input"], call, {"type": "function_call_output",
                  "call_id": call["call_id"], "output": "closed"}]  # fmt: skip
        again = await client.post("/v1/responses", json={**CODEX, "input": replay})
        assert again.status_code == 200, again.text
        assert '{"name": "multi_agent_v1.close_agent", "arguments": {"target": "a1"}}' in _prompt(
            eng
        )


async def test_a_custom_tool_call_carries_its_input_text(qwen_dir: Path) -> None:
    tools = [{"type": "custom", "name": "apply_patch", "description": "Edit files."}]
    output = _call("apply_patch", {"input": PATCH})
    async with _server(qwen_dir, scripted_text(qwen3_tokenizer(), output)) as (client, _, _):
        body = {"model": FAKE_MODEL_ID, "input": "patch it", "tools": tools}
        whole = (await client.post("/v1/responses", json=body)).json()
        (call,) = [item for item in whole["output"] if item["type"] == "custom_tool_call"]
        assert (call["name"], call["input"]) == ("apply_patch", PATCH)
        streamed = await client.post("/v1/responses", json={**body, "stream": True})
        events = _events(streamed.text)
        deltas = [
            e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta"
        ]
        assert "".join(deltas) == PATCH
        streamed_call = events[-1]["response"]["output"][-1]
        assert (streamed_call["type"], streamed_call["input"]) == ("custom_tool_call", PATCH)
        replay = [{"role": "user", "content": "patch it"}, call,
                  {"type": "custom_tool_call_output", "call_id": call["call_id"], "output": "ok"}]  # fmt: skip
        again = await client.post("/v1/responses", json={**body, "input": replay})
        assert again.status_code == 200, again.text


async def test_a_forced_grammar_tool_is_enforced_and_an_unforced_one_refused(
    qwen_dir: Path,
) -> None:
    grammar = {"type": "grammar", "syntax": "lark", "definition": LARK}
    tools = [{"type": "custom", "name": "apply_patch", "format": grammar}]
    output = f"<think>\nA patch.\n</think>\n\n{PATCH}"
    async with _server(qwen_dir, scripted_text(qwen3_tokenizer(), output)) as (client, eng, _):
        body = {"model": FAKE_MODEL_ID, "input": "patch it", "tools": tools}
        forced = {**body, "tool_choice": {"type": "custom", "name": "apply_patch"}}
        whole = await client.post("/v1/responses", json=forced)
        assert whole.status_code == 200, whole.text
        assert eng.requests[-1].sampling.structured == StructuredConstraint(grammar=LARK)
        (call,) = [item for item in whole.json()["output"] if item["type"] == "custom_tool_call"]
        assert call["input"] == PATCH
        unforced = await client.post("/v1/responses", json=body)
        assert unforced.status_code == 400, unforced.text
        assert unforced.json()["error"]["param"] == "tools[0].format"


def _replay(reasoning: dict[str, Any], call: dict[str, Any]) -> list[dict[str, Any]]:
    result = {"type": "function_call_output", "call_id": call["call_id"], "output": "a.txt"}
    return [{"role": "user", "content": "list files"}, reasoning, call, result]


async def test_sealed_reasoning_round_trips_statelessly_and_a_forged_blob_is_a_400(
    qwen_dir: Path,
) -> None:
    tools = [{"type": "function", "name": "ls", "parameters": {"type": "object"}}]
    output = '<think>\nPlan: list the files first.\n</think>\n\n<tool_call>\n{"name": "ls", "arguments": {}}\n</tool_call>'
    async with _server(qwen_dir, scripted_text(qwen3_tokenizer(), output)) as (client, eng, _):
        body = {"model": FAKE_MODEL_ID, "input": "list files", "tools": tools, "store": False,
                "include": ["reasoning.encrypted_content"]}  # fmt: skip
        first = (await client.post("/v1/responses", json=body)).json()
        reasoning, call = first["output"]
        blob = reasoning["encrypted_content"]
        assert "Plan" not in blob
        # Codex keeps only what it needs: the id, the (empty) summary and the blob.
        kept = {
            "type": "reasoning",
            "id": reasoning["id"],
            "summary": [],
            "encrypted_content": blob,
        }
        second = await client.post("/v1/responses", json={**body, "input": _replay(kept, call)})
        assert second.status_code == 200, second.text
        assert "<think>\nPlan: list the files first.\n</think>" in _prompt(eng)
        # Without the blob the reasoning is not there: it came from the seal.
        bare = {k: v for k, v in kept.items() if k != "encrypted_content"}
        await client.post("/v1/responses", json={**body, "input": _replay(bare, call)})
        assert "Plan: list the files first." not in _prompt(eng)
        for forged in (blob[:-2] + ("AA" if blob[-2:] != "AA" else "BB"), "garbage", ""):
            tampered = {**kept, "encrypted_content": forged}
            refused = await client.post(
                "/v1/responses", json={**body, "input": _replay(tampered, call)}
            )
            assert refused.status_code == 400, refused.text
            error = refused.json()["error"]
            assert error["param"] == "input[1].encrypted_content"
            assert error["code"] == "invalid_encrypted_content"


async def test_reasoning_sealed_under_an_alias_opens_under_the_served_id(qwen_dir: Path) -> None:
    model = ModelConfig(model=str(qwen_dir), served_model_name=FAKE_MODEL_ID, aliases=("qwen",))
    tools = [{"type": "function", "name": "ls", "parameters": {"type": "object"}}]
    output = '<think>\nPlan: list the files first.\n</think>\n\n<tool_call>\n{"name": "ls", "arguments": {}}\n</tool_call>'
    script = scripted_text(qwen3_tokenizer(), output)
    async with fake_server(qwen_dir, script, model=model, engine_kwargs=LONG) as (client, eng, _):
        body = {"model": "qwen", "input": "list files", "tools": tools, "store": False,
                "include": ["reasoning.encrypted_content"]}  # fmt: skip
        first = (await client.post("/v1/responses", json=body)).json()
        reasoning, call = first["output"]
        kept = {"type": "reasoning", "id": reasoning["id"], "summary": [],
                "encrypted_content": reasoning["encrypted_content"]}  # fmt: skip
        for name in (FAKE_MODEL_ID, "qwen"):
            replay = {**body, "model": name, "input": _replay(kept, call)}
            again = await client.post("/v1/responses", json=replay)
            assert again.status_code == 200, again.text
            assert "<think>\nPlan: list the files first.\n</think>" in _prompt(eng)
