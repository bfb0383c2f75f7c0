"""Messages tools: Anthropic's own tools (server tools, schema-less client tools) are left
out and named; client tools are offered; a tool_choice naming a left-out tool is a 400."""

from __future__ import annotations

from typing import Any

import pytest

from tera_serve.adapters.messages import messages_conversation
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.messages import MessagesRequest

BASH = {"name": "Bash", "description": "Run a command.", "input_schema": {"type": "object"}}
ANTHROPIC_TOOLS = [
    {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
    {"type": "web_fetch_20250910", "name": "web_fetch"},
    {"type": "code_execution_20250825", "name": "code_execution"},
    {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"},
    {"type": "mcp_toolset", "mcp_server_name": "docs"},
    {"type": "bash_20250124", "name": "bash"},
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
    {"type": "computer_20250124", "name": "computer", "display_width_px": 1024},
    {"type": "memory_20250818", "name": "memory"},
]


def _convert(**fields: Any) -> Any:
    body = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    return messages_conversation(MessagesRequest.model_validate({**body, **fields}))


def test_anthropic_tools_are_left_out_and_named_once_client_tools_offered() -> None:
    tools = [ANTHROPIC_TOOLS[0], BASH, *ANTHROPIC_TOOLS, {**BASH, "name": "Read", "type": "custom"}]
    conversation = _convert(tools=tools)
    assert [tool.name for tool in conversation.tools] == ["Bash", "Read"]
    assert conversation.omitted_tools == tuple(t["type"] for t in ANTHROPIC_TOOLS)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [ANTHROPIC_TOOLS[0]], "tool_choice": {"type": "tool", "name": "web_search"}},
         "tool_choice"),
        ({"tools": [{"type": "web_search_2025", "name": "w"}]}, "tools[0].type"),
        ({"tools": [{"input_schema": {"type": "object"}}]}, "tools[0].name"),
        ({"tools": [ANTHROPIC_TOOLS[0]], "tool_choice": {"type": "any"}}, None),
    ],
)  # fmt: skip
def test_what_cannot_be_served_is_a_400(fields: dict[str, Any], param: str | None) -> None:
    if param is None:  # nothing left to choose from: decided later, in prepare (a 400 too)
        conversation = _convert(**fields)
        assert conversation.tools == () and conversation.omitted_tools == ("web_search_20250305",)
        return
    with pytest.raises(InvalidRequestError) as caught:
        _convert(**fields)
    assert caught.value.param == param
