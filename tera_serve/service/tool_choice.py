"""tool_choice `required` and a named function, enforced with guided decoding.

The engine is constrained to JSON whatever the model's native call format: for a named
function, the function's arguments object; for `required`, a list of
`{"name": ..., "arguments": ...}` calls of offered tools. The output parser then reports
that JSON as tool calls. Reasoning models think first: the grammar starts only after the
reasoning ends (the engine's reasoning parser decides where).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tera_serve.core.conversation import Conversation
from tera_serve.engine.base import StructuredConstraint
from tera_serve.errors import InvalidRequestError
from tera_serve.service.request_bounds import check_combined_schema
from tera_serve.service.structured import check_backend_enforces, check_json_schema

ANY_OBJECT: dict[str, Any] = {"type": "object"}
MAX_FORCED_CALLS = 8
"""Most parallel calls one forced answer may hold: the list must end within max_tokens."""


@dataclass(frozen=True)
class ForcedTools:
    """How the output must be read: one named function's arguments, or a list of calls."""

    constraint: StructuredConstraint
    function_name: str | None
    """Set for a named function; None for `required`."""


def _parameters(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(schema) if schema else ANY_OBJECT


def forced_tools(conversation: Conversation, backend: str) -> ForcedTools | None:
    choice = conversation.tool_choice
    if choice is None or choice.mode in ("auto", "none"):
        return None
    choice_param = conversation.param("tool_choice")
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
    for index, (name, schema) in enumerate(tools.items()):
        where = conversation.param("tool_parameters").format(index=index, name=name)
        check_json_schema(_parameters(schema), where)
        check_backend_enforces(_parameters(schema), backend, tools_param)
    if choice.mode == "named":
        name = choice.name or ""
        if name not in tools:
            raise InvalidRequestError(
                f"`{choice_param}` names the function '{name}', which is not in `tools`.",
                param=choice_param,
            )
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
