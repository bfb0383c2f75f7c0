"""The parser chain of models that mark reasoning and tool calls with tags in their text:
a `<think>` splitter first, then the family's tool-call format reading the content.

engine delta ─► Qwen3ReasoningSplitter ─► reasoning
                                       └► content ─► the ToolFormat's stage ─► content, calls

The family names its format (hermes, qwen3_coder, deepseek_v3, ...); the splitter stops
reasoning at that format's first tag.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from tera_serve.parsing.base import OutputParser, PlainParser, new_tool_call_id
from tera_serve.parsing.chain import ParserChain
from tera_serve.parsing.qwen3_reasoning import Qwen3ReasoningSplitter, ThinkTokenIds
from tera_serve.parsing.tags import TOOL_CALL_TAGS
from tera_serve.parsing.tool_base import ToolFormat


def make_tagged_chain(
    *,
    reasoning: bool,
    tool_format: ToolFormat | None,
    tool_names: Collection[str] = (),
    tool_schemas: Mapping[str, Any] | None = None,
    parallel_tool_calls: bool = True,
    thinking_open: bool = False,
    thinking_disabled: bool = False,
    think_token_ids: ThinkTokenIds | None = None,
    new_call_id: Callable[[], str] = new_tool_call_id,
) -> ParserChain:
    """One parser chain for one choice. Tools are parsed only when some are offered."""
    stages: list[OutputParser] = []
    if reasoning:
        stages.append(
            Qwen3ReasoningSplitter(
                thinking_open=thinking_open,
                thinking_disabled=thinking_disabled,
                token_ids=think_token_ids,
                calls_open=(tool_format.tags if tool_format else TOOL_CALL_TAGS).first,
            )
        )
    if tool_format is not None and tool_names:
        stages.append(
            tool_format.stage(
                tool_names,
                tool_schemas=tool_schemas,
                parallel_tool_calls=parallel_tool_calls,
                new_call_id=new_call_id,
            )
        )
    if not stages:
        stages.append(PlainParser())
    return ParserChain(stages)
