"""DeepSeek-V3 end to end: the real tokenizer and chat template on the scripted tiny model
(tests/fixtures/deepseek_v3.py), through the real server and vLLM, on all four text
protocols. The model reasons in a `<think>` block and calls `get_weather` in DeepSeek's
tool-call tokens after a user's message, and answers after the tool's result, whatever the
sampler, so each protocol's stream folds to its non-stream answer exactly."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import jsonschema
import openai
import pytest

from tests.e2e.conftest import DEEPSEEK
from tests.e2e.test_reasoning_tools_e2e import stream_message
from tests.fixtures.deepseek_v3 import ANSWER, REASONING, TOOL_ARGUMENTS, TOOL_NAME
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
    "required": ["city"],
    "additionalProperties": False,
}
CHAT_TOOL = {
    "type": "function",
    "function": {"name": TOOL_NAME, "description": "Weather now", "parameters": WEATHER_SCHEMA},
}
QUESTION = "What is the weather in Paris?"
RESULT = "Sunny, 24 C."
ARGUMENTS = json.dumps(TOOL_ARGUMENTS)


def _chat(server: LiveServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        server.v1 + "/chat/completions", json={"model": DEEPSEEK, **body}, timeout=120
    )


def test_models_list_the_family_features(deepseek_server: LiveServer) -> None:
    (card,) = httpx.get(deepseek_server.v1 + "/models", timeout=30).json()["data"]
    assert card["id"] == DEEPSEEK
    assert {"reasoning", "tools", "structured_outputs"} <= set(card["supported_features"])


def test_chat_completions_reasoning_and_call_stream_equals_non_stream(
    deepseek_server: LiveServer,
) -> None:
    body = {"messages": [{"role": "user", "content": QUESTION}], "tools": [CHAT_TOOL]}
    whole = _chat(deepseek_server, body)
    assert whole.status_code == 200, whole.text
    choice = whole.json()["choices"][0]
    message = choice["message"]
    assert message["reasoning_content"] == REASONING
    assert not message["content"]
    (call,) = message["tool_calls"]
    assert call["function"] == {"name": TOOL_NAME, "arguments": ARGUMENTS}
    assert choice["finish_reason"] == "tool_calls"
    streamed, _ = stream_message(_chat(deepseek_server, {**body, "stream": True}))
    assert streamed["reasoning"] == REASONING and streamed["content"] == ""
    assert [(c["name"], c["arguments"]) for c in streamed["tool_calls"].values()] == [
        (TOOL_NAME, ARGUMENTS)
    ]
    assert streamed["finish_reason"] == "tool_calls"


def test_chat_completions_answer_after_the_tool_result(deepseek_server: LiveServer) -> None:
    body = {
        "messages": [
            {"role": "user", "content": QUESTION},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": TOOL_NAME, "arguments": ARGUMENTS},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": RESULT},
        ],
        "tools": [CHAT_TOOL],
        "temperature": 1.0,
    }
    whole = _chat(deepseek_server, body).json()["choices"][0]
    assert whole["message"]["content"] == ANSWER and whole["finish_reason"] == "stop"
    assert not whole["message"].get("tool_calls")
    streamed, _ = stream_message(_chat(deepseek_server, {**body, "stream": True}))
    assert streamed["content"] == ANSWER and streamed["finish_reason"] == "stop"


def test_completions_give_the_raw_output_stream_equals_non_stream(
    deepseek_server: LiveServer,
) -> None:
    client = openai.OpenAI(base_url=deepseek_server.v1, api_key="unused", max_retries=0)
    prompt = f"<｜User｜>{QUESTION}<｜Assistant｜>"
    whole = client.completions.create(model=DEEPSEEK, prompt=prompt, max_tokens=80)
    text = whole.choices[0].text
    assert text.startswith(f"<think>{REASONING}</think><｜tool▁calls▁begin｜>")
    assert f"<｜tool▁sep｜>{TOOL_NAME}\n" in text and text.endswith("<｜tool▁calls▁end｜>")
    assert whole.choices[0].finish_reason == "stop"
    pieces = client.completions.create(model=DEEPSEEK, prompt=prompt, max_tokens=80, stream=True)
    assert "".join(chunk.choices[0].text for chunk in pieces if chunk.choices) == text


def _without_ids(blocks: list[Any]) -> list[dict[str, Any]]:
    out = []
    for block in blocks:
        data = block.model_dump(exclude_none=True)
        data.pop("id", None)
        data.pop("signature", None)
        out.append(data)
    return out


def test_messages_thinking_and_tool_use_stream_equals_non_stream(
    deepseek_server: LiveServer,
) -> None:
    client = anthropic.Anthropic(base_url=deepseek_server.base_url, api_key="unused", max_retries=0)
    body: dict[str, Any] = {
        "model": DEEPSEEK,
        "max_tokens": 200,
        "messages": [{"role": "user", "content": QUESTION}],
        "tools": [
            {"name": TOOL_NAME, "description": "Weather now", "input_schema": WEATHER_SCHEMA}
        ],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    message = client.messages.create(**body)
    assert [block.type for block in message.content] == ["thinking", "tool_use"]
    assert message.content[0].thinking == REASONING  # type: ignore[union-attr]
    assert (message.content[1].name, message.content[1].input) == (TOOL_NAME, TOOL_ARGUMENTS)  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    with client.messages.stream(**body) as stream:
        final = stream.get_final_message()
    assert _without_ids(final.content) == _without_ids(message.content)
    assert final.stop_reason == "tool_use"
    history = [
        *body["messages"],
        {
            "role": "assistant",
            "content": [block.model_dump(exclude_none=True) for block in message.content],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": message.content[1].id, "content": RESULT}
            ],  # type: ignore[union-attr]
        },
    ]
    answer = client.messages.create(**{**body, "messages": history})
    assert [(b.type, getattr(b, "text", None)) for b in answer.content] == [("text", ANSWER)]
    assert answer.stop_reason == "end_turn"


def test_responses_reasoning_and_call_stream_equals_non_stream(
    deepseek_server: LiveServer,
) -> None:
    client = openai.OpenAI(base_url=deepseek_server.v1, api_key="unused", max_retries=0)
    tool = {
        "type": "function",
        "name": TOOL_NAME,
        "description": "Weather now",
        "parameters": WEATHER_SCHEMA,
    }
    body: dict[str, Any] = {"model": DEEPSEEK, "input": QUESTION, "tools": [tool], "store": False}
    response = client.responses.create(**body)
    assert [item.type for item in response.output] == ["reasoning", "function_call"]
    reasoning, call = response.output
    assert reasoning.content[0].text == REASONING  # type: ignore[union-attr,index]
    assert (call.name, call.arguments) == (TOOL_NAME, ARGUMENTS)  # type: ignore[union-attr]
    with client.responses.stream(**body) as stream:
        events = list(stream)
        final = stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert "".join(deltas) == ARGUMENTS
    assert [i.type for i in final.output] == ["reasoning", "function_call"]
    assert final.output[0].content[0].text == REASONING  # type: ignore[union-attr,index]
    assert (final.output[1].name, final.output[1].arguments) == (TOOL_NAME, ARGUMENTS)  # type: ignore[union-attr]
    history: list[Any] = [
        {"role": "user", "content": QUESTION},
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": TOOL_NAME,
            "arguments": ARGUMENTS,
        },  # type: ignore[union-attr]
        {"type": "function_call_output", "call_id": call.call_id, "output": RESULT},  # type: ignore[union-attr]
    ]
    answer = client.responses.create(**{**body, "input": history})
    assert answer.output_text == ANSWER and answer.status == "completed"
    with client.responses.stream(**{**body, "input": history}) as stream:
        assert stream.get_final_response().output_text == ANSWER


@pytest.mark.parametrize(
    "choice", ["required", {"type": "function", "function": {"name": TOOL_NAME}}]
)
def test_a_forced_call_is_valid_and_streams_the_same(
    deepseek_server: LiveServer, choice: Any
) -> None:
    """tool_choice forces the call through the grammar. The scripted path is masked out, so
    the model's choices are ties, taken greedily: under `required` it adds calls up to the
    grammar's limit of 8 before closing the list."""
    body = {
        "messages": [{"role": "user", "content": QUESTION}],
        "tools": [CHAT_TOOL],
        "tool_choice": choice,
        "temperature": 0.0,
        "max_tokens": 1000,
    }
    whole = _chat(deepseek_server, body)
    assert whole.status_code == 200, whole.text
    message = whole.json()["choices"][0]["message"]
    assert message.get("tool_calls"), message
    calls = [(c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"]]
    assert 1 <= len(calls) <= 8 and not message["content"]
    for name, arguments in calls:
        assert name == TOOL_NAME
        jsonschema.validate(json.loads(arguments), WEATHER_SCHEMA)
    streamed, _ = stream_message(_chat(deepseek_server, {**body, "stream": True}))
    assert [(c["name"], c["arguments"]) for c in streamed["tool_calls"].values()] == calls
