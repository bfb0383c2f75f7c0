"""Families prompted by the model's Jinja chat template, parametrised: the family's
reasoning rules, its tool-call format and its template's quirks. Each family module
(qwen.py, deepseek_v3.py, ...) declares its instances; `PLAIN` (no reasoning, no tools:
ChatML and the like) is the fallback."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tera_serve.chat.prompt_types import THINK_CLOSE, THINK_OPEN, ChatPrompt
from tera_serve.chat.system_messages import place_instructions
from tera_serve.chat.template import message_to_template_dict, tools_to_template_list
from tera_serve.core.conversation import Conversation, Message, ToolSpec
from tera_serve.engine.base import StructuredConstraint
from tera_serve.families.base import EngineConstraint, ModelContext, ParserSetup
from tera_serve.parsing.base import OutputParser, PlainParser
from tera_serve.parsing.qwen3_reasoning import ThinkTokenIds
from tera_serve.parsing.tagged_chain import make_tagged_chain
from tera_serve.parsing.tool_base import ToolFormat


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
class ThinkRules:
    """The family's reasoning: a `<think>...</think>` block opening the output."""

    vllm_parser: str
    """vLLM's reasoning-parser name for it (the engine's grammar finds reasoning's end)."""
    engine_sees_reasoning: bool = True
    """vLLM's parser of that name finds `</think>`: a grammar or thinking budget applies
    after it, so a prompt that must open reasoning gets `<think>` appended. False: it sees
    no reasoning (DeepSeek-V3's without the `thinking` switch), so a grammar governs the
    output from its first token."""


class TemplateQuirks(Protocol):
    """How a family's template wants the conversation (the shape of messages and tools)."""

    def template_inputs(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """The messages and the `tools` argument (None: no tools offered) to render."""
        ...


class StandardTemplate:
    """OpenAI-shaped messages (call arguments as objects) and the tools list, as HF chat
    templates take them."""

    def template_inputs(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        dicts = [message_to_template_dict(m) for m in messages]
        return dicts, tools_to_template_list(tools) if tools else None


STANDARD_TEMPLATE = StandardTemplate()


def _any_model(model_type: str, chat_template: str) -> bool:
    return True


@dataclass(frozen=True)
class TemplateFamily:
    name: str
    think: ThinkRules | None = None
    tool_format: ToolFormat | None = None
    detect: Callable[[str, str], bool] = _any_model
    """Whether a model (its `model_type`, its chat template) is of this family."""
    quirks: TemplateQuirks = STANDARD_TEMPLATE

    @property
    def reasoning_parser(self) -> str | None:
        return self.think.vllm_parser if self.think else None

    @property
    def tool_call_parser(self) -> str | None:
        return self.tool_format.vllm_name if self.tool_format else None

    @property
    def reasoning_field(self) -> str | None:
        return "reasoning_content" if self.think else None

    def detects(self, model_type: str, chat_template: str) -> bool:
        return self.detect(model_type, chat_template)

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
        dicts, tools = self.quirks.template_inputs(
            messages, conversation.tools if conversation.tools_offered() else ()
        )
        rendered = await model.renderer.render(
            dicts,
            tools=tools,
            add_generation_prompt=conversation.add_generation_prompt,
            template_kwargs=kwargs,
            chat_template=conversation.chat_template,
        )
        tail = rendered.text.rstrip()
        reasoning = self.think is not None
        thinking_open = reasoning and tail.endswith(THINK_OPEN)
        thinking_disabled = reasoning and (
            tail.endswith(THINK_CLOSE) or kwargs.get("enable_thinking") is False
        )
        text, token_ids = rendered.text, rendered.token_ids
        opens = self.think is not None and self.think.engine_sees_reasoning
        if open_reasoning and opens and not thinking_open and not thinking_disabled:
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
        # the prompt closed or disabled reasoning, or that parser sees none).
        blind = self.think is not None and not self.think.engine_sees_reasoning
        return EngineConstraint(constraint, reasoning_ended=prompt.thinking_disabled or blind)

    def parser_factory(self, model: ModelContext, setup: ParserSetup) -> Callable[[], OutputParser]:
        reasoning = self.think is not None
        tool_format = self.tool_format if setup.tools else None
        if not reasoning and tool_format is None:
            return PlainParser
        calls_open = (self.tool_format.tags.first,) if self.tool_format else ()
        return functools.partial(
            make_tagged_chain,
            reasoning=reasoning,
            tool_format=tool_format,
            tool_names=frozenset(tool.name for tool in setup.tools),
            tool_schemas={tool.name: dict(tool.parameters or {}) for tool in setup.tools},
            parallel_tool_calls=setup.parallel_tool_calls,
            thinking_open=setup.prompt.thinking_open,
            thinking_disabled=setup.prompt.thinking_disabled,
            think_token_ids=ThinkTokenIds.from_tokenizer(model.tokenizer, *calls_open)
            if reasoning
            else None,
        )


PLAIN = TemplateFamily("plain")
"""No reasoning, no tools: every token is content (the fallback: it matches any model)."""
