"""gpt-oss: prompts rendered by the harmony library, output read by its streaming parser."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.core.conversation import Conversation
from tera_serve.engine.base import StructuredConstraint
from tera_serve.families.base import EngineConstraint, ModelContext, ParserSetup
from tera_serve.families.harmony_grammar import final_json_tag
from tera_serve.parsing.base import OutputParser

HARMONY_MODEL_TYPES = ("gpt_oss",)


@dataclass(frozen=True)
class HarmonyFamily:
    name: str = "gpt-oss"
    reasoning_parser: str | None = "openai_gptoss"
    tool_call_parser: str | None = "openai"
    reasoning_field: str | None = "reasoning"

    def detects(self, model_type: str, chat_template: str) -> bool:
        # The tools-off variant is only ever configured (tool_call_parser: none).
        return model_type in HARMONY_MODEL_TYPES and self.tool_call_parser is not None

    def features(self) -> tuple[str, ...]:
        return (("tools",) if self.tool_call_parser else ()) + ("reasoning",)

    async def render(
        self, conversation: Conversation, model: ModelContext, *, open_reasoning: bool
    ) -> ChatPrompt:
        # Imported here: the harmony library comes with vLLM, not with tera-serve itself.
        from tera_serve.chat.harmony import render_harmony_prompt

        return await render_harmony_prompt(conversation, model)

    def constrain(
        self, constraint: StructuredConstraint, prompt: ChatPrompt, backend: str
    ) -> EngineConstraint:
        """The whole output is governed from its first token: vLLM's gpt-oss reasoning
        parser says reasoning has ended at once, so a bare JSON grammar would leave the
        first token free (a stray token before the JSON). With xgrammar one structural tag
        allows an analysis message, then the final channel holding the JSON; the other
        backends constrain the answer to the JSON alone (no analysis: documented)."""
        json_answer = constraint.json_schema is not None or constraint.json_object
        if prompt.parser_prefix or backend != "xgrammar" or not json_answer:
            return EngineConstraint(constraint, reasoning_ended=True)
        tag = final_json_tag(constraint.json_schema)
        return EngineConstraint(StructuredConstraint(structural_tag=tag), reasoning_ended=True)

    def parser_factory(self, model: ModelContext, setup: ParserSetup) -> Callable[[], OutputParser]:
        from tera_serve.chat.harmony import harmony_encoding
        from tera_serve.parsing.harmony import make_harmony_parser

        tools = frozenset(t.name for t in setup.tools) if self.tool_call_parser else frozenset()
        return functools.partial(
            make_harmony_parser,
            harmony_encoding(),
            tools,
            setup.parallel_tool_calls,
            prefix=setup.prompt.parser_prefix,
        )


FAMILIES = (HarmonyFamily(), HarmonyFamily(tool_call_parser=None))
