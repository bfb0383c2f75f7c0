"""OpenAI Responses bodies → the internal Conversation, and the echoed settings."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses import Response

from tera_serve.adapters.responses import responses_conversation
from tera_serve.adapters.responses_body import ResponseHead, echoed_settings
from tera_serve.core.conversation import ImagePart, Message, OutputFormat, TextPart, ToolChoice
from tera_serve.errors import InvalidRequestError
from tera_serve.http.validation import validate_body
from tera_serve.protocol.responses import ResponsesRequest

TOOL = {"type": "function", "name": "get", "parameters": {"type": "object"}, "strict": True}


def _request(**fields: Any) -> ResponsesRequest:
    return validate_body(ResponsesRequest, {"model": "m", "input": "hi", **fields})


def _convert(**fields: Any) -> Any:
    return responses_conversation(_request(**fields))


def test_string_input_and_instructions() -> None:
    conversation = _convert(instructions="Be brief.", max_output_tokens=9, temperature=0.5)
    assert [(m.role, m.text()) for m in conversation.messages] == [
        ("system", "Be brief."),
        ("user", "hi"),
    ]
    assert conversation.max_tokens == 9 and conversation.sampling.temperature == 0.5
    assert conversation.param("max_tokens") == "max_output_tokens"
    assert conversation.param("messages") == "input"
    assert not conversation.sampling.ignore_eos
    assert _convert(ignore_eos=True).sampling.ignore_eos  # the extension reaches sampling


def test_items_group_into_turns() -> None:
    conversation = _convert(
        input=[
            {"role": "developer", "content": "Use tools."},
            {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": "call it"}],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Checking."}],
            },
            {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "get", "arguments": '{"a":1}'},
            {"type": "function_call_output", "call_id": "c1", "output": "Sunny"},
            {"type": "function_call_output", "call_id": "c2", "output": "Rain"},
            {"role": "user", "content": "Thanks"},
        ]
    )
    roles = [m.role for m in conversation.messages]
    assert roles == ["developer", "user", "assistant", "tool", "tool", "user"]
    assistant = conversation.messages[2]
    assert assistant.reasoning == "call it" and assistant.text() == "Checking."
    assert [(c.id, c.arguments) for c in assistant.tool_calls] == [("c1", "{}"), ("c2", '{"a":1}')]
    assert conversation.messages[3].tool_call_id == "c1"
    assert conversation.messages[4].text() == "Rain"


def test_a_reasoning_item_after_a_call_starts_a_new_turn() -> None:
    conversation = _convert(
        input=[
            {"role": "user", "content": "go"},
            {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{}"},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "again"}]},
            {"type": "function_call", "call_id": "c2", "name": "get", "arguments": "{}"},
        ]
    )
    assert [m.role for m in conversation.messages] == ["user", "assistant", "assistant"]
    assert conversation.messages[2].reasoning == "again"


def test_images_are_image_parts() -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "low"}
    conversation = _convert(input=[{"role": "user", "content": [image]}])
    assert conversation.messages[0].parts == (
        ImagePart(
            url="data:image/png;base64,AA==",
            detail="low",
            param="input[0].content[0].image_url",
        ),
    )


def test_history_goes_after_instructions() -> None:
    history = (Message(role="user", parts=(TextPart("before"),)),)
    conversation = responses_conversation(_request(instructions="sys"), history)
    assert [m.text() for m in conversation.messages] == ["sys", "before", "hi"]


def test_tools_choice_and_format() -> None:
    conversation = _convert(
        tools=[TOOL],
        tool_choice={"type": "function", "name": "get"},
        parallel_tool_calls=False,
        text={"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
        reasoning={"effort": "xhigh"},
    )
    assert conversation.tools[0].name == "get" and conversation.tools[0].strict is True
    assert conversation.tool_choice == ToolChoice("named", "get")
    assert conversation.parallel_tool_calls is False
    assert conversation.output_format == OutputFormat("json_schema", {"type": "object"})
    assert conversation.reasoning_effort == "high"
    assert _convert(tool_choice="required").tool_choice == ToolChoice("required")


@pytest.mark.parametrize(
    ("fields", "param", "word"),
    [
        ({"tools": [TOOL, {"type": "web_crawl"}]}, "tools[1].type", "web_crawl"),
        ({"tool_choice": {"type": "file_search"}}, "tool_choice", "file_search"),
        ({"tool_choice": {"type": "allowed_tools", "tools": []}}, "tool_choice.type", "allowed"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type", "item_reference"),
        ({"include": ["file_search_call.results"]}, "include", "file_search_call"),
        ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name", "name"),
        ({"input": []}, "input", "at least one"),
    ],
)
def test_unsupported_is_a_clear_400(fields: dict[str, Any], param: str, word: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        _convert(**fields)
    assert caught.value.param == param and word in caught.value.message


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"truncation": "auto"}, "truncation"),
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
    ],
)
def test_refused_by_the_body_model(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        _request(**fields)
    assert caught.value.param == param


def test_the_echo_is_a_valid_sdk_response() -> None:
    request = _request(
        instructions="sys",
        tools=[TOOL],
        tool_choice={"type": "function", "name": "get"},
        text={"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
        reasoning={"effort": "low"},
        metadata={"k": "v"},
        store=False,
        user="u1",
        max_output_tokens=5,
    )
    body = ResponseHead("resp_x", 1, "m", echoed_settings(request)).body("completed", [], None)
    parsed = Response.model_validate(body)
    assert parsed.tool_choice.type == "function"  # type: ignore[union-attr]
    assert parsed.tools[0].name == "get"  # type: ignore[union-attr]
    assert parsed.text is not None and parsed.text.format is not None
    assert parsed.text.format.type == "json_schema"
    assert (parsed.store, parsed.user, parsed.max_output_tokens) == (False, "u1", 5)
    assert parsed.metadata == {"k": "v"} and parsed.instructions == "sys"
    assert parsed.reasoning is not None and parsed.reasoning.effort == "low"
    default = echoed_settings(_request())
    assert default["tool_choice"] == "auto" and default["text"]["format"] == {"type": "text"}
    assert default["store"] is True and default["parallel_tool_calls"] is True
