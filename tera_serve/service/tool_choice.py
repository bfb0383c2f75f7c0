"""tool_choice `required` and a named function, enforced with guided decoding.

The engine is constrained to JSON whatever the model's native call format: for a named
function, the function's arguments object; for `required`, a list of
`{"name": ..., "arguments": ...}` calls of offered tools. The output parser then reports
that JSON as tool calls. Reasoning models think first: the grammar starts only after the
reasoning ends (the engine's reasoning parser decides where).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tera_serve.engine.base import StructuredConstraint
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.chat import ChatCompletionRequest, NamedToolChoice
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


def _parameters(schema: dict[str, Any] | None) -> dict[str, Any]:
    return schema if schema else ANY_OBJECT


def forced_tools(request: ChatCompletionRequest, backend: str) -> ForcedTools | None:
    choice = request.tool_choice
    if choice is None or choice in ("auto", "none"):
        return None
    tools = {tool.function.name: tool.function.parameters for tool in request.tools or []}
    if not tools:
        raise InvalidRequestError(
            "`tool_choice` requires `tools` that it can choose from.", param="tool_choice"
        )
    if request.response_format is not None and request.response_format.type != "text":
        raise InvalidRequestError(
            "`response_format` cannot be combined with a forced `tool_choice`.",
            param="response_format",
        )
    for name, schema in tools.items():
        check_json_schema(_parameters(schema), f"tools[{name}].function.parameters")
        check_backend_enforces(_parameters(schema), backend, "tools")
    if isinstance(choice, NamedToolChoice):
        name = choice.function.name
        if name not in tools:
            raise InvalidRequestError(
                f"`tool_choice` names the function '{name}', which is not in `tools`.",
                param="tool_choice",
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
    calls["maxItems"] = MAX_FORCED_CALLS if request.parallel_tool_calls else 1
    check_combined_schema(calls)
    return ForcedTools(StructuredConstraint(json_schema=calls), None)
