"""Anthropic Messages bodies → the internal Conversation."""

from __future__ import annotations

from typing import Any

import pytest

from tera_serve.adapters.messages import messages_conversation
from tera_serve.core.conversation import ImagePart, TextPart, ToolChoice
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.messages import MessagesRequest


def _convert(**fields: Any) -> Any:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    return messages_conversation(MessagesRequest.model_validate({**body, **fields}))


def test_system_and_turns() -> None:
    conversation = _convert(
        system=[{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}],
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "call it", "signature": "s"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "t1", "name": "get", "input": {"c": "P"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": "boom",
                        "is_error": True,
                    },
                    {"type": "text", "text": "And now?"},
                ],
            },
        ],
    )
    roles = [m.role for m in conversation.messages]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    assert conversation.messages[0].text() == "Be brief."
    assistant = conversation.messages[2]
    assert assistant.reasoning == "call it" and assistant.text() == "Checking."
    assert [(c.id, c.name, c.arguments) for c in assistant.tool_calls] == [
        ("t1", "get", '{"c":"P"}')
    ]
    tool = conversation.messages[3]
    assert tool.tool_call_id == "t1" and tool.text() == "Error: boom"


def test_sampling_limits_and_stop_sequences() -> None:
    conversation = _convert(temperature=0.5, top_k=3, stop_sequences=["END"], max_tokens=9)
    assert conversation.sampling.temperature == 0.5 and conversation.sampling.top_k == 3
    assert conversation.sampling.stop == ("END",) and conversation.max_tokens == 9
    assert conversation.param("max_tokens") == "max_tokens"
    assert not conversation.sampling.ignore_eos
    assert _convert(ignore_eos=True).sampling.ignore_eos  # tera-serve's extension


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, ToolChoice("auto"), True),
        ({"type": "any", "disable_parallel_tool_use": True}, ToolChoice("required"), False),
        ({"type": "tool", "name": "get"}, ToolChoice("named", "get"), True),
        ({"type": "none"}, ToolChoice("none"), True),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: ToolChoice, parallel: bool) -> None:
    tools = [{"name": "get", "input_schema": {"type": "object"}}]
    conversation = _convert(tools=tools, tool_choice=choice)
    assert conversation.tool_choice == expected
    assert conversation.parallel_tool_calls is parallel
    assert conversation.tools[0].parameters == {"type": "object"}
    assert conversation.param("tool_parameters").format(index=0) == "tools[0].input_schema"


@pytest.mark.parametrize(
    ("fields", "effort", "budget"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, None, 2048),
        ({"thinking": {"type": "disabled"}}, "none", None),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, "high", None),
        ({}, None, None),
    ],
)
def test_thinking(fields: dict[str, Any], effort: str | None, budget: int | None) -> None:
    conversation = _convert(**fields)
    assert (conversation.reasoning_effort, conversation.thinking_budget) == (effort, budget)
    assert conversation.thinking_budget_required is False


def test_output_format_and_images() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "QQ=="},
    }
    conversation = _convert(
        messages=[{"role": "user", "content": [{"type": "text", "text": "see"}, image]}],
        output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
    )
    assert conversation.output_format is not None
    assert conversation.output_format.schema == {"type": "object"}
    parts = conversation.messages[0].parts
    assert parts[0] == TextPart("see")
    assert parts[1] == ImagePart(
        "data:image/png;base64,QQ==", param="messages[0].content[1].source"
    )


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "web_crawler_2025", "name": "crawl"}]}, "tools[0].type"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_use", "id": "x", "name": "f", "input": {}}],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
    ],
)
def test_refusals_name_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        _convert(**fields)
    assert raised.value.param == param
