"""The chat completions body (tera_serve/protocol/chat.py and the sampling fields it shares
with completions, protocol/common.py): what it takes, what it refuses and where."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tera_serve.protocol.chat import ChatCompletionRequest, ChatMessage, ResponseFormat

USER = {"role": "user", "content": "hi"}


def chat(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "m", "messages": [USER], **fields})


def refused_at(fields: dict[str, Any]) -> tuple[int | str, ...]:
    """Where validation failed (the location a 400's `param` is made from)."""
    with pytest.raises(ValidationError) as failure:
        chat(**fields)
    return failure.value.errors()[0]["loc"]


def test_unknown_fields_are_ignored_everywhere() -> None:
    request = chat(
        store=True,
        service_tier="auto",
        stream_options={"include_usage": True, "future_option": 1},
        messages=[{**USER, "refusal": None, "audio": None}],
    )
    assert request.stream_options is not None and request.stream_options.include_usage
    assert "service_tier" not in request.model_dump()


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"model": ""}, ("model",)),
        ({"messages": []}, ("messages",)),
        ({"n": 0}, ("n",)),
        ({"max_tokens": 0}, ("max_tokens",)),
        ({"max_completion_tokens": 0}, ("max_completion_tokens",)),
        ({"temperature": 2.5}, ("temperature",)),
        ({"top_p": 0}, ("top_p",)),
        ({"top_k": -2}, ("top_k",)),
        ({"frequency_penalty": 3}, ("frequency_penalty",)),
        ({"repetition_penalty": 0}, ("repetition_penalty",)),
        ({"seed": 2**63}, ("seed",)),
        ({"stop": ["ok", ""]}, ("stop",)),
        ({"top_logprobs": -1, "logprobs": True}, ("top_logprobs",)),
        ({"reasoning_effort": "extreme"}, ("reasoning_effort",)),
        ({"thinking_token_budget": 0}, ("thinking_token_budget",)),
    ],
)
def test_out_of_range_fields_are_refused_where_they_stand(
    fields: dict[str, Any], loc: tuple[int | str, ...]
) -> None:
    assert refused_at(fields)[: len(loc)] == loc


def test_stop_is_a_list_whatever_was_sent() -> None:
    assert chat(stop="END").stop_list() == ["END"]
    assert chat(stop=["a", "b"]).stop_list() == ["a", "b"]
    assert chat().stop_list() == []
    assert chat(seed=-(2**63)).seed == -(2**63)


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert chat(max_tokens=10, max_completion_tokens=20).requested_max_tokens() == 20
    assert chat(max_tokens=10).requested_max_tokens() == 10
    assert chat().requested_max_tokens() is None


def test_top_logprobs_needs_logprobs() -> None:
    with pytest.raises(ValidationError, match="requires `logprobs: true`"):
        chat(top_logprobs=3)
    assert chat(top_logprobs=3, logprobs=True).top_logprobs == 3
    assert chat(top_logprobs=0).top_logprobs == 0  # zero asks for nothing


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user"},
        {"role": "assistant", "content": None},
        {"role": "tool", "tool_call_id": "c"},
        {"role": "assistant", "tool_calls": []},
    ],
)
def test_a_message_needs_content_unless_it_calls_tools(message: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="needs `content`"):
        ChatMessage.model_validate(message)


def test_an_assistant_turn_of_tool_calls_takes_no_content() -> None:
    message = ChatMessage.model_validate(
        {"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}
    )
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert (call.id, call.type, call.function.arguments) == (None, "function", "{}")
    assert message.text() == ""


def test_content_parts_are_told_apart_by_type() -> None:
    parts = [
        {"type": "text", "text": "a"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}},
        {"type": "text", "text": "b"},
    ]
    message = ChatMessage.model_validate({"role": "user", "content": parts})
    assert message.text() == "ab"  # images are no text
    assert refused_at({"messages": [{"role": "user", "content": [{"type": "audio"}]}]})[:3] == (
        "messages",
        0,
        "content",
    )
    bad_detail = {"type": "image_url", "image_url": {"url": "x", "detail": "max"}}
    with pytest.raises(ValidationError):
        ChatMessage.model_validate({"role": "user", "content": [bad_detail]})
    with pytest.raises(ValidationError):
        ChatMessage.model_validate({"role": "robot", "content": "hi"})


@pytest.mark.parametrize("name", ["", "a" * 65, "has space", "semi;colon"])
def test_tool_names_are_short_plain_identifiers(name: str) -> None:
    tool = {"type": "function", "function": {"name": name}}
    assert refused_at({"tools": [tool]})[:4] == ("tools", 0, "function", "name")


def test_a_dotted_tool_name_is_taken() -> None:
    tool = {"function": {"name": "crm.find-user_2", "parameters": {"type": "object"}}}
    request = chat(tools=[tool], tool_choice={"type": "function", "function": {"name": "x"}})
    assert request.tools is not None and request.tools[0].function.name == "crm.find-user_2"
    assert chat(tool_choice="required").tool_choice == "required"
    assert refused_at({"tool_choice": "always"})[0] == "tool_choice"


def test_response_format_schema_under_either_name() -> None:
    schema = {"type": "object"}
    named = ResponseFormat.model_validate(
        {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )
    assert named.json_schema is not None and named.json_schema.json_schema == schema
    extension = ResponseFormat.model_validate({"type": "json_object", "schema": schema})
    assert extension.schema_ == schema
    both = {"type": "json_schema", "json_schema": {"schema": schema}, "schema": schema}
    assert ResponseFormat.model_validate(both).schema_ == schema  # the same schema twice


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "json_schema"}, "`json_schema` is required"),
        ({"type": "text", "schema": {"type": "object"}}, "needs type 'json_object'"),
        (
            {"type": "json_schema", "json_schema": {"schema": {}}, "schema": {"type": "object"}},
            "differ",
        ),
        ({"type": "yaml"}, "json_schema"),
    ],
)
def test_a_response_format_that_would_drop_a_schema_is_refused(
    body: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ResponseFormat.model_validate(body)
