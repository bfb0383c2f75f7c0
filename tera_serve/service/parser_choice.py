"""Pick and configure the output parser for a request from the model's family."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.parsing.base import OutputParser, PlainParser
from tera_serve.parsing.qwen3_reasoning import ThinkTokenIds
from tera_serve.parsing.qwen_family import TOOL_FORMATS, make_qwen_parser
from tera_serve.service.registry import ServedModel


def make_parser_factory(
    served: ServedModel,
    *,
    prompt: ChatPrompt,
    tool_names: tuple[str, ...],
    tool_schemas: Mapping[str, Any],
    parallel_tool_calls: bool,
) -> Callable[[], OutputParser]:
    """A factory (one parser per choice). `tool_names` is empty when tools are off."""
    family = served.family
    if family.is_harmony or family.tool_call_parser == "openai":
        # Imported here: the harmony library comes with vLLM, not with tera-serve itself.
        from tera_serve.parsing.harmony import make_harmony_parser

        harmony_tools = frozenset(tool_names) if family.tool_call_parser else frozenset()
        return functools.partial(
            make_harmony_parser, harmony_tools, parallel_tool_calls, prefix=prompt.parser_prefix
        )
    reasoning = family.reasoning_parser == "qwen3"
    tool_format = family.tool_call_parser if family.tool_call_parser in TOOL_FORMATS else None
    if not reasoning and (tool_format is None or not tool_names):
        return PlainParser
    return functools.partial(
        make_qwen_parser,
        reasoning=reasoning,
        tool_format=tool_format,
        tool_names=frozenset(tool_names),
        tool_schemas=dict(tool_schemas),
        parallel_tool_calls=parallel_tool_calls,
        thinking_open=prompt.thinking_open,
        thinking_disabled=prompt.thinking_disabled,
        think_token_ids=ThinkTokenIds.from_tokenizer(served.tokenizer) if reasoning else None,
    )
