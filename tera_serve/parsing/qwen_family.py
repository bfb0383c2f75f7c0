"""The output parser for Qwen-family models: reasoning first, then tool calls in the content.

engine delta ─► Qwen3ReasoningSplitter ─► reasoning
                                       └► content ─► hermes / qwen3_coder ─► content, calls
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from tera_serve.parsing.base import ParsedDelta, new_tool_call_id
from tera_serve.parsing.hermes import HermesToolParser
from tera_serve.parsing.qwen3_coder import Qwen3CoderToolParser
from tera_serve.parsing.qwen3_reasoning import Qwen3ReasoningSplitter, ThinkTokenIds
from tera_serve.parsing.tool_base import TaggedToolParser

TOOL_FORMATS = ("hermes", "qwen3_coder")


class QwenFamilyParser:
    """An OutputParser chaining an optional reasoning splitter and an optional tool parser."""

    def __init__(
        self, reasoning: Qwen3ReasoningSplitter | None, tools: TaggedToolParser | None
    ) -> None:
        self._reasoning = reasoning
        self._tools = tools

    @property
    def reasoning_tokens(self) -> int:
        return self._reasoning.reasoning_tokens if self._reasoning is not None else 0

    @property
    def called_tools(self) -> bool:
        return self._tools is not None and self._tools.called_tools

    def feed(self, token_ids: list[int], text: str) -> ParsedDelta:
        if self._reasoning is None:
            reasoning, content = "", text
        else:
            reasoning, content = self._reasoning.feed(token_ids, text)
        return self._with_tools(reasoning, content, finished=False)

    def finish(self) -> ParsedDelta:
        reasoning, content = self._reasoning.finish() if self._reasoning else ("", "")
        return self._with_tools(reasoning, content, finished=True)

    def _with_tools(self, reasoning: str, content: str, *, finished: bool) -> ParsedDelta:
        if self._tools is None:
            return ParsedDelta(reasoning=reasoning, content=content)
        parsed = self._tools.feed_text(content) if content else ParsedDelta()
        if finished:
            parsed.extend(self._tools.finish())
        parsed.reasoning = reasoning
        return parsed


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
) -> QwenFamilyParser:
    """One parser for one choice. Tools are parsed only when some are offered."""
    splitter = (
        Qwen3ReasoningSplitter(
            thinking_open=thinking_open,
            thinking_disabled=thinking_disabled,
            token_ids=think_token_ids,
        )
        if reasoning
        else None
    )
    tools = None
    if tool_format is not None and tool_names:
        tools = make_tool_parser(
            tool_format,
            tool_names,
            tool_schemas=tool_schemas,
            parallel_tool_calls=parallel_tool_calls,
            new_call_id=new_call_id,
        )
    return QwenFamilyParser(splitter, tools)
