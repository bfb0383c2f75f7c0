"""Reasoning fields and forced tool calls through the real engine, on the tiny Qwen3 and
gpt-oss test models (random weights: only the grammar can make their calls valid)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from tests.e2e.conftest import OSS, QWEN
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e


WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["Paris", "Rome", "Tokyo"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "metric": {"type": "boolean"},
    },
    "required": ["city", "days"],
    "additionalProperties": False,
}
CLOCK = {
    "type": "object",
    "properties": {"tz": {"type": "string", "pattern": "^[A-Z]{3}$"}},
    "required": ["tz"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather forecast",
            "parameters": WEATHER,
        },
    },
    {
        "type": "function",
        "function": {"name": "get_time", "description": "Current time", "parameters": CLOCK},
    },
]
SCHEMAS = {"get_weather": WEATHER, "get_time": CLOCK}


def post(server: LiveServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.v1 + "/chat/completions", json=body, timeout=120)


def stream_message(response: httpx.Response) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Fold an SSE response into (message, chunks), checking the stream's own rules."""
    assert response.status_code == 200, response.text
    frames = [f for f in response.text.split("\n\n") if f.strip()]
    assert frames[-1] == "data: [DONE]"
    chunks = [json.loads(f[6:]) for f in frames[:-1]]
    message: dict[str, Any] = {"reasoning": "", "content": "", "tool_calls": {}}
    finish = None
    for chunk in chunks:
        assert "error" not in chunk, chunk
        for choice in chunk["choices"]:
            delta = choice["delta"]
            for field in ("reasoning", "reasoning_content"):
                if delta.get(field):
                    assert not message["content"], "reasoning after content"
                    message["reasoning"] += delta[field]
            message["content"] += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                entry = message["tool_calls"].setdefault(
                    call["index"], {"name": None, "arguments": "", "id": None}
                )
                if "id" in call:
                    assert entry["id"] is None, "id sent twice"
                    entry["id"], entry["name"] = call["id"], call["function"]["name"]
                entry["arguments"] += call["function"].get("arguments", "")
            finish = choice["finish_reason"] or finish
    message["finish_reason"] = finish
    return message, chunks


def assert_valid_calls(calls: list[dict[str, Any]], only: str | None = None) -> None:
    assert calls, "no tool call"
    for call in calls:
        assert call["id"].startswith("call_")
        name = call["name"] if "name" in call else call["function"]["name"]
        arguments = call["arguments"] if "arguments" in call else call["function"]["arguments"]
        assert name in SCHEMAS and (only is None or name == only)
        jsonschema.validate(json.loads(arguments), SCHEMAS[name])


# ---- reasoning -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "model", "field"),
    [("qwen_server", QWEN, "reasoning_content"), ("oss_server", OSS, "reasoning")],
)
def test_models_list_reasoning_and_tools(
    request: pytest.FixtureRequest, fixture: str, model: str, field: str
) -> None:
    server: LiveServer = request.getfixturevalue(fixture)
    (card,) = httpx.get(server.v1 + "/models").json()["data"]
    assert card["id"] == model
    assert {"reasoning", "tools", "json_mode", "structured_outputs"} <= set(
        card["supported_features"]
    )


def test_qwen_reasoning_field_stream_and_non_stream(qwen_server: LiveServer) -> None:
    body = {
        "model": QWEN,
        "messages": [{"role": "user", "content": "think"}],
        "max_tokens": 24,
        "thinking_token_budget": 8,
        "seed": 1,
    }
    whole = post(qwen_server, body).json()
    message = whole["choices"][0]["message"]
    assert "reasoning_content" in message and "reasoning" not in message
    assert message["reasoning_content"] and "<think>" not in (message["content"] or "")
    assert whole["usage"]["completion_tokens_details"]["reasoning_tokens"] >= 8
    streamed, chunks = stream_message(post(qwen_server, {**body, "stream": True}))
    assert streamed["reasoning"] == message["reasoning_content"]
    assert streamed["content"] == (message["content"] or "")
    assert all("reasoning" not in c["choices"][0]["delta"] for c in chunks if c["choices"])


def test_qwen_thinking_disabled_gives_pure_content(qwen_server: LiveServer) -> None:
    body = {
        "model": QWEN,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 12,
        "chat_template_kwargs": {"enable_thinking": False},
    }
    message = post(qwen_server, body).json()["choices"][0]["message"]
    assert message["reasoning_content"] is None and message["content"]


def test_gpt_oss_reasoning_field_stream_and_non_stream(oss_server: LiveServer) -> None:
    body = {
        "model": OSS,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 16,
        "seed": 3,
        "reasoning_effort": "high",
    }
    whole = post(oss_server, body)
    assert whole.status_code == 200, whole.text
    message = whole.json()["choices"][0]["message"]
    assert "reasoning" in message and "reasoning_content" not in message
    streamed, _ = stream_message(post(oss_server, {**body, "stream": True}))
    assert streamed["reasoning"] == (message["reasoning"] or "")
    assert streamed["content"] == (message["content"] or "")
    for text in (streamed["content"], streamed["reasoning"]):
        assert "<|channel|>" not in text and "<|message|>" not in text


def test_gpt_oss_reasoning_none_answers_in_the_final_channel(oss_server: LiveServer) -> None:
    body = {
        "model": OSS,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 8,
        "reasoning_effort": "none",
        "ignore_eos": True,
    }
    whole = post(oss_server, body).json()
    assert whole["choices"][0]["message"]["reasoning"] is None
    assert whole["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


# ---- forced tool calls: 20 seeds each, stream and non-stream, zero failures ------------


def forced_body(
    model: str, choice: Any, seed: int, stream: bool, extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": TOOLS,
        "tool_choice": choice,
        "max_tokens": 400,
        "seed": seed,
        "temperature": 1.0,
        "stream": stream,
        **extra,
    }


CASES = [
    ("qwen_server", QWEN, {"reasoning_effort": "none"}),
    ("qwen_server", QWEN, {"thinking_token_budget": 6}),
    ("oss_server", OSS, {"reasoning_effort": "none"}),
]
CHOICES = [("required", None), ({"type": "function", "function": {"name": "get_time"}}, "get_time")]


@pytest.mark.parametrize(
    ("fixture", "model", "extra"), CASES, ids=["qwen", "qwen-thinking", "gpt-oss"]
)
@pytest.mark.parametrize(("choice", "only"), CHOICES, ids=["required", "named"])
def test_forced_tool_calls_always_validate(
    request: pytest.FixtureRequest,
    fixture: str,
    model: str,
    extra: dict[str, Any],
    choice: Any,
    only: str | None,
) -> None:
    server: LiveServer = request.getfixturevalue(fixture)
    expected_finish = "tool_calls" if only is None else "stop"
    for seed in range(20):
        whole = post(server, forced_body(model, choice, seed, False, extra))
        assert whole.status_code == 200, whole.text
        choice_out = whole.json()["choices"][0]
        assert choice_out["message"]["content"] is None, choice_out
        assert choice_out["finish_reason"] == expected_finish, choice_out
        assert_valid_calls(choice_out["message"]["tool_calls"], only)
        streamed, _ = stream_message(post(server, forced_body(model, choice, seed, True, extra)))
        assert streamed["content"] == "" and streamed["finish_reason"] == expected_finish
        assert_valid_calls(list(streamed["tool_calls"].values()), only)
        # Same seed, same engine path: the stream's fragments join to the non-stream call.
        assert [c["arguments"] for c in streamed["tool_calls"].values()] == [
            c["function"]["arguments"] for c in choice_out["message"]["tool_calls"]
        ]


def test_parallel_tool_calls_false_gives_one_call(qwen_server: LiveServer) -> None:
    for seed in range(5):
        body = forced_body(
            QWEN,
            "required",
            seed,
            False,
            {"reasoning_effort": "none", "parallel_tool_calls": False},
        )
        calls = post(qwen_server, body).json()["choices"][0]["message"]["tool_calls"]
        assert len(calls) == 1


def test_tool_choice_errors(qwen_server: LiveServer) -> None:
    base = {"model": QWEN, "messages": [{"role": "user", "content": "x"}], "max_tokens": 4}
    cases = [
        ({"tool_choice": "required"}, "tool_choice"),
        (
            {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
        ),
        (
            {"tools": TOOLS, "tool_choice": "required", "response_format": {"type": "json_object"}},
            "response_format",
        ),
        (
            {
                "tools": [
                    {"type": "function", "function": {"name": "f", "parameters": {"type": "strin"}}}
                ],
                "tool_choice": "required",
            },
            None,
        ),
    ]
    for extra, param in cases:
        response = post(qwen_server, {**base, **extra})
        assert response.status_code == 400, (extra, response.text)
        if param:
            assert response.json()["error"]["param"] == param


def test_tool_choice_none_offers_no_tools(qwen_server: LiveServer) -> None:
    with_tools = httpx.post(
        qwen_server.base_url + "/tokenize",
        json={"model": QWEN, "messages": [{"role": "user", "content": "x"}]},
    ).json()
    body = {
        "model": QWEN,
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 3,
        "tools": TOOLS,
        "tool_choice": "none",
    }
    usage = post(qwen_server, body).json()["usage"]
    assert usage["prompt_tokens"] == with_tools["count"]
