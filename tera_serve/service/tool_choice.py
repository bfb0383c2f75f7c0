"""tool_choice `required` and a named function, enforced with guided decoding.

The engine is constrained to JSON whatever the model's native call format: for a named
function, the function's arguments object; for `required`, a list of
`{"name": ..., "arguments": ...}` calls of offered tools. The output parser then reports
that JSON as tool calls. Reasoning models think first: the grammar starts only after the
reasoning ends (the engine's reasoning parser decides where).

A freeform tool with a grammar (Responses' `custom` tools, lark or regex) is enforced
only when tool_choice names it: the whole answer is then its raw input, under that grammar.
Offered beside other tools (auto, required), its call would sit inside the model's own
call format, where no grammar of ours reaches it: such a request is refused, never served
with the grammar silently dropped (DESIGN rule 11).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tera_serve.core.conversation import Conversation, ToolSpec
from tera_serve.engine.base import StructuredConstraint
from tera_serve.errors import InvalidRequestError
from tera_serve.service.schema_bounds import (
    MAX_SCHEMA_BYTES,
    check_combined_schema,
    check_json_schema,
)
from tera_serve.service.structured import check_backend_enforces

ANY_OBJECT: dict[str, Any] = {"type": "object"}
MAX_FORCED_CALLS = 8
"""Most parallel calls one forced answer may hold: the list must end within max_tokens."""


@dataclass(frozen=True)
class ForcedTools:
    """How the output must be read: one named function's arguments, or a list of calls."""

    constraint: StructuredConstraint
    function_name: str | None
    """Set for a named function; None for `required`."""
    freeform: bool = False
    """The answer is a freeform tool's raw input (its grammar constrains it)."""
    param: str | None = None
    """Where a constraint the engine refuses sits in the body (None: the tools)."""


def _parameters(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(schema) if schema else ANY_OBJECT


def _grammar_constraint(tool: ToolSpec) -> StructuredConstraint | None:
    freeform = tool.freeform
    if freeform is None or not freeform.has_grammar:
        return None
    size = len(freeform.definition.encode())
    if size > MAX_SCHEMA_BYTES:
        raise InvalidRequestError(
            f"The grammar is {size} bytes; the limit is {MAX_SCHEMA_BYTES}.", param=freeform.param
        )
    if freeform.syntax == "regex":
        return StructuredConstraint(regex=freeform.definition)
    return StructuredConstraint(grammar=freeform.definition)


def check_unforced_grammars(conversation: Conversation) -> None:
    """A grammar tool the model may call without being forced to: refused (see above)."""
    choice = conversation.tool_choice
    if not conversation.tools_offered() or (choice is not None and choice.mode == "named"):
        return
    for tool in conversation.tools:
        if tool.freeform is not None and tool.freeform.has_grammar:
            raise InvalidRequestError(
                f"The {tool.freeform.syntax} grammar of the tool '{tool.name}' can be enforced "
                f"only when `{conversation.param('tool_choice')}` names that tool; this "
                "server cannot hold a grammar inside the model's own tool-call format. Name "
                'the tool in tool_choice, or give it `format: {"type": "text"}`.',
                param=tool.freeform.param,
            )


def forced_tools(conversation: Conversation, backend: str) -> ForcedTools | None:
    check_unforced_grammars(conversation)
    choice = conversation.tool_choice
    if choice is None or choice.mode in ("auto", "none"):
        return None
    choice_param = conversation.param("tool_choice")
    specs = {tool.name: tool for tool in conversation.tools}
    tools = {tool.name: tool.parameters for tool in conversation.tools}
    if not tools:
        raise InvalidRequestError(
            f"`{choice_param}` requires `tools` that it can choose from.", param=choice_param
        )
    fmt = conversation.output_format
    if fmt is not None and fmt.kind != "text":
        format_param = conversation.param("response_format")
        raise InvalidRequestError(
            f"`{format_param}` cannot be combined with a forced `{choice_param}`.",
            param=format_param,
        )
    tools_param = conversation.param("tools")
    places = {tool.name: index for index, tool in enumerate(conversation.tools)}
    for index in places.values():  # the tool each name means (the last of that name)
        schema = conversation.tools[index].parameters
        check_json_schema(_parameters(schema), conversation.tool_schema_param(index))
        check_backend_enforces(_parameters(schema), backend, tools_param)
    if choice.mode == "named":
        name = choice.name or ""
        if name not in tools:
            raise InvalidRequestError(
                f"`{choice_param}` names the function '{name}', which is not in `tools`.",
                param=choice_param,
            )
        freeform = specs[name].freeform
        grammar = _grammar_constraint(specs[name])
        if grammar is not None and freeform is not None:
            return ForcedTools(grammar, name, freeform=True, param=freeform.param)
        return ForcedTools(StructuredConstraint(json_schema=_parameters(tools[name])), name)
    calls: dict[str, Any] = {
        "type": "array",
        "minItems": 1,
        "items": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"name": {"const": name}, "arguments": _parameters(schema)},
                    "required": ["name", "arguments"],
                    "additionalProperties": False,
                }
                for name, schema in tools.items()
            ]
        },
    }
    calls["maxItems"] = MAX_FORCED_CALLS if conversation.parallel_tool_calls else 1
    check_combined_schema(calls)
    return ForcedTools(StructuredConstraint(json_schema=calls), None)
