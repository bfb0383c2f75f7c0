"""Families prompted by the model's Jinja chat template: Qwen3 / Qwen3.5 (`<think>` and
hermes or qwen3_coder tool calls), and plain chat models (ChatML and the like)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tera_serve.chat.prompt_types import THINK_CLOSE, THINK_OPEN, ChatPrompt
from tera_serve.chat.system_messages import place_instructions
from tera_serve.chat.template import message_to_template_dict, tools_to_template_list
from tera_serve.core.conversation import Conversation
from tera_serve.engine.base import StructuredConstraint
from tera_serve.families.base import EngineConstraint, ModelContext, ParserSetup
from tera_serve.parsing.base import OutputParser, PlainParser
from tera_serve.parsing.qwen3_reasoning import ThinkTokenIds
from tera_serve.parsing.qwen_family import make_qwen_parser


def template_kwargs(conversation: Conversation, model: ModelContext) -> dict[str, Any]:
    """Server defaults, then the effort switch, then the request's own kwargs."""
    kwargs: dict[str, Any] = dict(model.config.default_chat_template_kwargs)
    if conversation.reasoning_effort is not None:
        kwargs["reasoning_effort"] = conversation.reasoning_effort
        if conversation.reasoning_effort == "none":
            # Qwen3 templates' switch for "answer without thinking".
            kwargs["enable_thinking"] = False
    kwargs.update(conversation.template_kwargs or {})
    return kwargs


@dataclass(frozen=True)
class TemplateFamily:
    name: str
    reasoning_parser: str | None
    tool_call_parser: str | None

    @property
    def reasoning_field(self) -> str | None:
        return "reasoning_content" if self.reasoning_parser else None

    def features(self) -> tuple[str, ...]:
        return (("tools",) if self.tool_call_parser else ()) + (
            ("reasoning",) if self.reasoning_parser else ()
        )

    async def render(
        self, conversation: Conversation, model: ModelContext, *, open_reasoning: bool
    ) -> ChatPrompt:
        """A Qwen3 prompt whose template leaves the think block to the model gets `<think>`
        appended when `open_reasoning`, as Qwen3.5 templates do themselves, so the engine
        knows reasoning is under way (a grammar then waits for `</think>`, and a thinking
        budget counts from the first token).

        System and developer messages are placed where the template accepts them, by the
        rule in chat/system_messages.py: one leading system message, and later ones in
        place where the template renders them there, else merged into the leading one."""
        kwargs = template_kwargs(conversation, model)
        in_place = await model.renderer.late_system_in_place(conversation.chat_template)
        messages = place_instructions(conversation.messages, late_in_place=in_place)
        rendered = await model.renderer.render(
            [message_to_template_dict(m) for m in messages],
            tools=tools_to_template_list(conversation.tools)
            if conversation.tools_offered()
            else None,
            add_generation_prompt=conversation.add_generation_prompt,
            template_kwargs=kwargs,
            chat_template=conversation.chat_template,
        )
        tail = rendered.text.rstrip()
        reasoning = self.reasoning_parser is not None
        thinking_open = reasoning and tail.endswith(THINK_OPEN)
        thinking_disabled = reasoning and (
            tail.endswith(THINK_CLOSE) or kwargs.get("enable_thinking") is False
        )
        text, token_ids = rendered.text, rendered.token_ids
        if open_reasoning and reasoning and not thinking_open and not thinking_disabled:
            opener = THINK_OPEN + "\n"
            text, token_ids = text + opener, token_ids + model.renderer.encode(opener)
            thinking_open = True
        return ChatPrompt(
            text=text,
            token_ids=token_ids,
            thinking_open=thinking_open and not thinking_disabled,
            thinking_disabled=thinking_disabled,
        )

    def constrain(
        self, constraint: StructuredConstraint, prompt: ChatPrompt, backend: str
    ) -> EngineConstraint:
        # The grammar starts where vLLM's reasoning parser sees `</think>` (or at once when
        # the prompt closed or disabled reasoning).
        return EngineConstraint(constraint, reasoning_ended=prompt.thinking_disabled)

    def parser_factory(self, model: ModelContext, setup: ParserSetup) -> Callable[[], OutputParser]:
        reasoning = self.reasoning_parser is not None
        tool_format = self.tool_call_parser if setup.tools else None
        if not reasoning and tool_format is None:
            return PlainParser
        return functools.partial(
            make_qwen_parser,
            reasoning=reasoning,
            tool_format=tool_format,
            tool_names=frozenset(tool.name for tool in setup.tools),
            tool_schemas={tool.name: dict(tool.parameters or {}) for tool in setup.tools},
            parallel_tool_calls=setup.parallel_tool_calls,
            thinking_open=setup.prompt.thinking_open,
            thinking_disabled=setup.prompt.thinking_disabled,
            think_token_ids=ThinkTokenIds.from_tokenizer(model.tokenizer) if reasoning else None,
        )
