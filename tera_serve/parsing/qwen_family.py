"""The parser chain of Qwen-family models: reasoning first, then tool calls in the content.

engine delta ─► Qwen3ReasoningSplitter ─► reasoning
                                       └► content ─► hermes / qwen3_coder ─► content, calls
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from tera_serve.parsing.base import OutputParser, PlainParser, new_tool_call_id
from tera_serve.parsing.chain import ParserChain
from tera_serve.parsing.hermes import HermesToolParser
from tera_serve.parsing.qwen3_coder import Qwen3CoderToolParser
from tera_serve.parsing.qwen3_reasoning import Qwen3ReasoningSplitter, ThinkTokenIds
from tera_serve.parsing.tool_base import TaggedToolParser

TOOL_FORMATS = ("hermes", "qwen3_coder")


def make_tool_parser(
    tool_format: str,
    tool_names: Collection[str],
    *,
    tool_schemas: Mapping[str, Any] | None = None,
    parallel_tool_calls: bool = True,
    new_call_id: Callable[[], str] = new_tool_call_id,
) -> TaggedToolParser:
    max_calls = None if parallel_tool_calls else 1
    if tool_format == "qwen3_coder":
        return Qwen3CoderToolParser(
            tool_names, tool_schemas=tool_schemas, max_calls=max_calls, new_call_id=new_call_id
        )
    if tool_format == "hermes":
        return HermesToolParser(tool_names, max_calls=max_calls, new_call_id=new_call_id)
    raise ValueError(f"unknown Qwen tool-call format {tool_format!r}")


def make_qwen_parser(
    *,
    reasoning: bool,
    tool_format: str | None,
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
            )
        )
    if tool_format is not None and tool_names:
        stages.append(
            make_tool_parser(
                tool_format,
                tool_names,
                tool_schemas=tool_schemas,
                parallel_tool_calls=parallel_tool_calls,
                new_call_id=new_call_id,
            )
        )
    if not stages:
        stages.append(PlainParser())
    return ParserChain(stages)
