"""Anthropic Messages `tools` → the tools the model is offered.

Client tools (`type` absent or `custom`, with `input_schema`) are offered. Anthropic's own
tools tera-serve cannot run are left out and named in the conversation's `omitted_tools`
(the response's `X-Tera-Omitted-Tools` header), as hosted tools are on the Responses API:
- server tools, run by Anthropic: `web_search_*`, `web_fetch_*`, `code_execution_*`,
  `advisor_*`, `tool_search_tool_regex_*` / `_bm25_*`, `mcp_toolset`;
- Anthropic-defined client tools, whose schema is built into Claude and not sent
  (`bash_*`, `text_editor_*`, `computer_*`, `memory_*`): no other model can be offered
  them. Claude Code defines its own tools (Bash, Edit, ...) as client tools.
A type of neither kind is a 400 naming it; a `tool_choice` naming a left-out tool too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tera_serve.core.conversation import ToolChoice, ToolSpec
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.messages import ToolParam

ANTHROPIC_TOOL_TYPE = re.compile(
    r"(web_search|web_fetch|code_execution|advisor|tool_search_tool_regex|tool_search_tool_bm25"
    r"|bash|text_editor|computer|memory)_\d{8}|mcp_toolset"
)


@dataclass(frozen=True)
class MessagesTools:
    specs: tuple[ToolSpec, ...]
    omitted: tuple[str, ...]
    """The left-out tools' types, each once, in order."""
    omitted_names: frozenset[str]

    def check_choice(self, choice: ToolChoice | None) -> None:
        if choice is not None and choice.mode == "named" and choice.name in self.omitted_names:
            raise InvalidRequestError(
                f"`tool_choice` names the tool '{choice.name}', an Anthropic tool this server "
                "does not run (it is left out of `tools`).",
                param="tool_choice",
            )


def messages_tools(tools: Sequence[ToolParam] | None) -> MessagesTools:
    specs: list[ToolSpec] = []
    omitted: list[str] = []
    names: set[str] = set()
    for index, tool in enumerate(tools or ()):
        if tool.type not in (None, "custom"):
            if not ANTHROPIC_TOOL_TYPE.fullmatch(tool.type):
                raise InvalidRequestError(
                    f"`{tool.type}` is not a tool type of the Messages API; define a client "
                    "tool with `input_schema`.",
                    param=f"tools[{index}].type",
                )
            if tool.type not in omitted:
                omitted.append(tool.type)
            if tool.name is not None:
                names.add(tool.name)
            continue
        if tool.name is None:
            raise InvalidRequestError("A client tool needs a `name`.", param=f"tools[{index}].name")
        specs.append(
            ToolSpec(
                name=tool.name,
                description=tool.description,
                parameters=tool.input_schema,
                schema_param=f"tools[{index}].input_schema",  # left-out tools keep their index
            )
        )
    return MessagesTools(tuple(specs), tuple(omitted), frozenset(names))
