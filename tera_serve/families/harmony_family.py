"""gpt-oss: prompts rendered by the harmony library, output read by its streaming parser."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.core.conversation import Conversation
from tera_serve.families.base import ModelContext, ParserSetup
from tera_serve.parsing.base import OutputParser


@dataclass(frozen=True)
class HarmonyFamily:
    name: str = "gpt-oss"
    reasoning_parser: str | None = "openai_gptoss"
    tool_call_parser: str | None = "openai"
    reasoning_field: str | None = "reasoning"

    def features(self) -> tuple[str, ...]:
        return (("tools",) if self.tool_call_parser else ()) + ("reasoning",)

    async def render(
        self, conversation: Conversation, model: ModelContext, *, open_reasoning: bool
    ) -> ChatPrompt:
        # Imported here: the harmony library comes with vLLM, not with tera-serve itself.
        from tera_serve.chat.harmony import render_harmony_prompt

        return await render_harmony_prompt(conversation, model)

    def parser_factory(self, model: ModelContext, setup: ParserSetup) -> Callable[[], OutputParser]:
        from tera_serve.parsing.harmony import make_harmony_parser

        tools = frozenset(t.name for t in setup.tools) if self.tool_call_parser else frozenset()
        return functools.partial(
            make_harmony_parser,
            tools,
            setup.parallel_tool_calls,
            prefix=setup.prompt.parser_prefix,
        )
