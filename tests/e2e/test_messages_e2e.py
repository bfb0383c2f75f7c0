"""The Anthropic Messages API through the official `anthropic` SDK, against the real
process: SmolLM2 for text, the tiny Qwen3 and gpt-oss models for thinking and tools."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import jsonschema
import pytest

from tests.e2e.conftest import DEFAULT_MODEL, OSS, QWEN
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["Paris", "Rome"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "days"],
    "additionalProperties": False,
}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather forecast for a city",
    "input_schema": WEATHER_SCHEMA,
}


def client_for(server: LiveServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key="unused", max_retries=0)


def test_text_answer(default_server: LiveServer) -> None:
    message = client_for(default_server).messages.create(
        model=DEFAULT_MODEL, max_tokens=40, messages=QUESTION
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert [block.type for block in message.content] == ["text"]
    assert "Paris" in message.content[0].text  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens == 0


def test_stream_text_equals_the_non_stream_text(default_server: LiveServer) -> None:
    client = client_for(default_server)
    whole = client.messages.create(model=DEFAULT_MODEL, max_tokens=40, messages=QUESTION)
    with client.messages.stream(model=DEFAULT_MODEL, max_tokens=40, messages=QUESTION) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == whole.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == whole.stop_reason
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert final.usage.input_tokens == whole.usage.input_tokens


def test_raw_event_sequence(default_server: LiveServer) -> None:
    body = {"model": DEFAULT_MODEL, "max_tokens": 3, "messages": QUESTION, "stream": True}
    with httpx.stream("POST", default_server.v1 + "/messages", json=body, timeout=60) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in raw.iter_lines() if line.startswith("event: ")]
    kinds = [line.removeprefix("event: ") for line in lines]
    assert kinds[:3] == ["message_start", "ping", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[3:-3]) == {"content_block_delta"}
    events = list(
        client_for(default_server).messages.create(
            model=DEFAULT_MODEL, max_tokens=3, messages=QUESTION, stream=True
        )
    )
    assert events[-2].delta.stop_reason == "max_tokens"  # type: ignore[union-attr]


def test_stop_sequence_is_reported(default_server: LiveServer) -> None:
    message = client_for(default_server).messages.create(
        model=DEFAULT_MODEL, max_tokens=40, messages=QUESTION, stop_sequences=["France"]
    )
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "France"
    assert "France" not in message.content[0].text  # type: ignore[union-attr]


def test_count_tokens_equals_input_tokens(default_server: LiveServer) -> None:
    client = client_for(default_server)
    body: dict[str, Any] = {
        "model": DEFAULT_MODEL,
        "system": "You are terse.",
        "messages": [*QUESTION, {"role": "assistant", "content": "Paris."}, *QUESTION],
    }
    counted = client.messages.count_tokens(**body)
    message = client.messages.create(max_tokens=2, **body)
    assert counted.input_tokens == message.usage.input_tokens > 0


def test_errors_take_anthropic_shape(default_server: LiveServer) -> None:
    raw = httpx.post(
        default_server.v1 + "/messages", json={"model": DEFAULT_MODEL, "messages": QUESTION}
    )
    assert raw.status_code == 400
    assert raw.json()["type"] == "error"
    assert raw.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in raw.json()["error"]["message"]
    client = client_for(default_server)
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="no/such-model", max_tokens=5, messages=QUESTION)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    # A server tool tera-serve cannot run is left out and named, not refused (DESIGN rule 11)...
    left_out = client.messages.with_raw_response.create(
        model=DEFAULT_MODEL,
        max_tokens=5,
        messages=QUESTION,
        tools=[{"type": "web_search_20250305", "name": "web_search"}],  # type: ignore[list-item]
    )
    assert left_out.headers["x-tera-omitted-tools"] == "web_search_20250305"
    # ... but forcing it is a 400.
    with pytest.raises(anthropic.BadRequestError) as server_tool:
        client.messages.create(
            model=DEFAULT_MODEL,
            max_tokens=5,
            messages=QUESTION,
            tools=[{"type": "web_search_20250305", "name": "web_search"}],  # type: ignore[list-item]
            tool_choice={"type": "tool", "name": "web_search"},
        )
    assert "web_search" in server_tool.value.body["error"]["message"]  # type: ignore[index]
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AA=="},
    }
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(
            model=DEFAULT_MODEL,
            max_tokens=5,
            messages=[{"role": "user", "content": [image, {"type": "text", "text": "What?"}]}],
        )


@pytest.mark.parametrize(("fixture", "model"), [("qwen_server", QWEN), ("oss_server", OSS)])
def test_forced_tool_use_validates_and_streams_the_same_input(
    request: pytest.FixtureRequest, fixture: str, model: str
) -> None:
    client = client_for(request.getfixturevalue(fixture))
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 300,
        "extra_body": {"temperature": 0.0},  # the SDK no longer types sampling fields
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "thinking": {"type": "disabled"},
    }
    message = client.messages.create(**body)
    calls = [block for block in message.content if block.type == "tool_use"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert calls[0].id.startswith("call_") or calls[0].id
    jsonschema.validate(calls[0].input, WEATHER_SCHEMA)
    assert message.stop_reason == "tool_use"
    partial: list[str] = []
    with client.messages.stream(**body) as stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                partial.append(event.delta.partial_json)
        final = stream.get_final_message()
    import json

    assert json.loads("".join(partial)) == calls[0].input
    assert final.stop_reason == "tool_use"


def test_output_config_format_constrains_the_text(qwen_server: LiveServer) -> None:
    import json

    message = client_for(qwen_server).messages.create(
        model=QWEN,
        max_tokens=200,
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
        output_config={"format": {"type": "json_schema", "schema": WEATHER_SCHEMA}},
        thinking={"type": "disabled"},
    )
    text = "".join(b.text for b in message.content if b.type == "text")
    jsonschema.validate(json.loads(text), WEATHER_SCHEMA)
    assert message.stop_reason == "end_turn"


@pytest.mark.parametrize(("fixture", "model"), [("qwen_server", QWEN), ("oss_server", OSS)])
def test_tool_use_round_trip(request: pytest.FixtureRequest, fixture: str, model: str) -> None:
    client = client_for(request.getfixturevalue(fixture))
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather in Paris for 2 days?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should call the tool.", "signature": "x"},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris", "days": 2},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny, 21 C."},
                {"type": "text", "text": "Summarise it."},
            ],
        },
    ]
    counted = client.messages.count_tokens(model=model, messages=history, tools=[WEATHER_TOOL])
    shorter = client.messages.count_tokens(model=model, messages=history[:1], tools=[WEATHER_TOOL])
    assert counted.input_tokens > shorter.input_tokens
    message = client.messages.create(
        model=model, max_tokens=16, messages=history, tools=[WEATHER_TOOL]
    )
    usage = message.usage
    # Anthropic's three input figures add up to the prompt (a prefix-cache hit moves tokens
    # from input_tokens to cache_read_input_tokens; it never counts them twice).
    assert (
        usage.input_tokens
        + (usage.cache_read_input_tokens or 0)
        + (usage.cache_creation_input_tokens or 0)
        == counted.input_tokens
    )
    assert message.stop_reason in ("end_turn", "max_tokens", "tool_use")


def test_thinking_blocks_come_first_and_never_leak_into_text(qwen_server: LiveServer) -> None:
    # The Qwen prompt opens `<think>` when thinking is on, so even random weights reason
    # first; gpt-oss reasoning on realistic outputs is replayed in tests/unit/adapters.
    message = client_for(qwen_server).messages.create(
        model=QWEN,
        max_tokens=24,
        messages=[{"role": "user", "content": "Think, then answer: 2+2?"}],
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    kinds = [block.type for block in message.content]
    assert kinds and kinds[0] == "thinking", kinds
    for block in message.content:
        if block.type == "text":
            assert "<think>" not in block.text and "</think>" not in block.text
        if block.type == "thinking":
            assert block.signature and "<think>" not in block.thinking


def test_gpt_oss_output_never_carries_harmony_markers(oss_server: LiveServer) -> None:
    for effort in ("low", "high"):
        message = client_for(oss_server).messages.create(
            model=OSS,
            max_tokens=24,
            messages=[{"role": "user", "content": "2+2?"}],
            output_config={"effort": effort},
        )
        for block in message.content:
            text = getattr(block, "text", None) or getattr(block, "thinking", "")
            assert "<|" not in text, block
