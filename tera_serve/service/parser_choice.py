"""Pick and configure the output parser for a request from the model's family."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tera_serve.parsing.base import OutputParser, PlainParser
from tera_serve.service.prompt import ChatPrompt
from tera_serve.service.registry import ServedModel


def make_parser_factory(
    served: ServedModel,
    *,
    prompt: ChatPrompt,
    tool_names: tuple[str, ...],
    tool_schemas: Mapping[str, Any],
    parallel_tool_calls: bool,
) -> Callable[[], OutputParser]:
    family = served.family
    if family.reasoning_parser is None and (family.tool_call_parser is None or not tool_names):
        return PlainParser
    return PlainParser
