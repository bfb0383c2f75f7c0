"""The Responses body (tera_serve/protocol/responses.py): input items and tools are told
apart by type, and what this server will not do is refused, not dropped."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tera_serve.protocol.responses import (
    CustomToolCallItem,
    FunctionCallOutputItem,
    HostedToolParam,
    MessageItem,
    NamespaceToolParam,
    OtherItem,
    OtherToolParam,
    ReasoningItem,
    ResponsesRequest,
)


def responses(**fields: Any) -> ResponsesRequest:
    return ResponsesRequest.model_validate({"model": "m", "input": "hi", **fields})


def refused_at(fields: dict[str, Any]) -> tuple[int | str, ...]:
    with pytest.raises(ValidationError) as failure:
        responses(**fields)
    return failure.value.errors()[0]["loc"]


def test_input_is_a_string_or_a_list_of_items() -> None:
    assert responses().input == "hi"
    items = [
        {"role": "user", "content": "no type: a message"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "42"},
        {"type": "custom_tool_call", "call_id": "d", "name": "g", "input": "raw"},
        {"type": "custom_tool_call_output", "call_id": "d", "output": "done"},
        {"type": "reasoning", "summary": [], "encrypted_content": "blob"},
        {"type": "item_reference", "id": "msg_1"},
    ]
    kinds = [type(item) for item in responses(input=items).input]
    assert kinds == [
        MessageItem,
        MessageItem,
        kinds[2],
        FunctionCallOutputItem,
        CustomToolCallItem,
        FunctionCallOutputItem,  # the same shape: a tool result for its call_id
        ReasoningItem,
        OtherItem,  # taken here, refused by the adapter with its type named
    ]
    assert kinds[2].__name__ == "FunctionCallItem"


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"model": ""}, ("model",)),
        ({"input": 5}, ("input",)),
        ({"prompt": {"id": "p"}}, ("prompt",)),
        ({"max_output_tokens": 0}, ("max_output_tokens",)),
        ({"text": {"verbosity": "chatty"}}, ("text", "verbosity")),
        ({"reasoning": {"effort": "max"}}, ("reasoning", "effort")),
        ({"tool_choice": "always"}, ("tool_choice",)),
        ({"prompt_cache_key": "k" * 1025}, ("prompt_cache_key",)),
        ({"metadata": {"n": 1}}, ("metadata", "n")),
    ],
)
def test_what_this_server_does_not_do_is_refused(
    fields: dict[str, Any], loc: tuple[int | str, ...]
) -> None:
    """Beside the refusals tests/unit/adapters/test_responses.py checks with their param."""
    assert refused_at(fields)[: len(loc)] == loc


def test_tools_are_told_apart_by_type() -> None:
    tools = [
        {"type": "function", "name": "f", "parameters": {"type": "object"}, "defer_loading": True},
        {"type": "custom", "name": "patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: 'a'"}},
        {"type": "namespace", "name": "crm", "tools": [{"type": "function", "name": "find"}]},
        {"type": "web_search", "search_context_size": "low"},
        {"type": "teleport"},
    ]  # fmt: skip
    kinds = [type(tool).__name__ for tool in responses(tools=tools).tools or []]
    assert kinds == [
        "FunctionToolParam",
        "CustomToolParam",
        "NamespaceToolParam",
        HostedToolParam.__name__,
        OtherToolParam.__name__,
    ]


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "function", "name": "dotted.name"},  # a dot is the namespace separator
        {"type": "function", "name": ""},
        {"type": "namespace", "name": "crm", "tools": []},
        {"type": "namespace", "name": "crm", "tools": [{"type": "web_search"}]},
        {"type": "custom", "name": "g", "format": {"type": "grammar", "syntax": "ebnf", "definition": "x"}},
        {"type": "custom", "name": "g", "format": {"type": "grammar", "syntax": "lark", "definition": ""}},
    ],
)  # fmt: skip
def test_bad_tools_are_refused_in_the_tools_list(tool: dict[str, Any]) -> None:
    assert refused_at({"tools": [tool]})[:2] == ("tools", 0)


def test_a_namespace_holds_at_most_128_tools() -> None:
    member = {"type": "function", "name": "f"}
    NamespaceToolParam.model_validate({"type": "namespace", "name": "n", "tools": [member] * 128})
    with pytest.raises(ValidationError):
        NamespaceToolParam.model_validate(
            {"type": "namespace", "name": "n", "tools": [member] * 129}
        )


def test_named_tool_choices_and_the_schema_alias() -> None:
    forced = responses(tool_choice={"type": "custom", "name": "patch"})
    assert not isinstance(forced.tool_choice, str) and forced.tool_choice is not None
    assert (forced.tool_choice.type, forced.tool_choice.name) == ("custom", "patch")
    fmt = {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}
    text = responses(text=fmt).text
    assert text is not None and text.format is not None
    assert text.format.schema_ == {"type": "object"}


def test_accepted_fields_with_no_effect_and_extras() -> None:
    request = responses(
        prompt_cache_key="k",
        client_metadata={"session": "s"},
        reasoning={"effort": "xhigh", "summary": "auto", "generate_summary": "concise"},
        include=["reasoning.encrypted_content"],
        safety_identifier="unknown fields are ignored",
        truncation="disabled",
        background=False,
        top_logprobs=0,
    )
    assert request.store and request.reasoning is not None
    assert request.reasoning.effort == "xhigh"
    assert "safety_identifier" not in request.model_dump()
