"""DeepSeek-V3: its own Jinja template, tool calls in its special tokens
(parsing/deepseek_v3_tools.py), and `<think>` reasoning when a model writes it.

vLLM's names: reasoning parser `deepseek_v3`, tool-call parser `deepseek_v3`.

The template's quirks (DeepSeek-V3's template as its tokenizer_config.json ships it), met
here so the rendered prompt keeps what the conversation says:
- It never renders `tools`: the offered tools are described at the end of the leading
  system message instead (one system message: the template joins every system message at
  the top anyway, which the probe in chat/system_messages.py sees, so a later one merges).
- It joins a call's `arguments` to strings: they are given as the JSON string, not parsed.
- An assistant message with text and tool calls renders the text and drops the calls: such
  a message is given with `content` None (the template's calls branch), so its calls stay
  and its text (a preamble) goes.
- Tool results are `<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>...<｜tool▁output▁end｜>`,
  closed by `<｜tool▁outputs▁end｜>`; after them the generation prompt adds no
  `<｜Assistant｜>`: the model goes on with the same turn.
Left as the template renders them (its namespace flags are never reset): a second
assistant turn with calls lacks `<｜tool▁calls▁begin｜>`, a turn with one call lacks
`<｜tool▁calls▁end｜>`, and later tool results lack `<｜tool▁outputs▁begin｜>`.

Reasoning: the template has no thinking switch (V3 is a chat model) and `<think>` is no
token of this vocabulary. An output that opens with a `<think>` block (as R1-style
fine-tunes write it, in plain text) gives it as reasoning. vLLM's `deepseek_v3` reasoning
parser reads reasoning only under `chat_template_kwargs: {thinking: true}`, which the
engine's grammar never sees: a constrained answer is governed from its first token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tera_serve.chat.template import message_to_template_dict
from tera_serve.core.conversation import Message, TextPart, ToolSpec
from tera_serve.families.template_family import TemplateFamily, ThinkRules
from tera_serve.parsing.deepseek_v3_tools import DEEPSEEK_V3, DEEPSEEK_V3_TAGS

_DETECT_TAG = DEEPSEEK_V3_TAGS.block_open or DEEPSEEK_V3_TAGS.open


def describe_tools(tools: Sequence[ToolSpec]) -> str:
    """The offered tools as DeepSeek-V3's system prompts list them."""
    lines = ["## Tools", "", "### Function", "", "You have the following functions available:"]
    for tool in tools:
        lines += ["", f"- `{tool.name}`:", "```json"]
        lines.append(json.dumps(tool.as_openai_tool()["function"], ensure_ascii=False))
        lines.append("```")
    return "\n".join(lines)


class DeepSeekV3Template:
    """The conversation as DeepSeek-V3's template takes it (the quirks above)."""

    def template_inputs(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        if tools:
            messages = _with_tools_described(messages, describe_tools(tools))
        return [_template_dict(message) for message in messages], None


def _with_tools_described(messages: Sequence[Message], text: str) -> list[Message]:
    out = list(messages)
    if out and out[0].role == "system":
        first = out[0]
        out[0] = replace(first, parts=(*first.parts, TextPart("\n\n" + text)))
    else:
        out.insert(0, Message(role="system", parts=(TextPart(text),)))
    return out


def _template_dict(message: Message) -> dict[str, Any]:
    out = message_to_template_dict(message)
    if message.tool_calls:
        out["content"] = None
        for entry, call in zip(out["tool_calls"], message.tool_calls, strict=True):
            entry["function"]["arguments"] = call.arguments
    return out


def _detect(model_type: str, chat_template: str) -> bool:
    return model_type == "deepseek_v3" or _DETECT_TAG in chat_template


DEEPSEEK_V3_FAMILY = TemplateFamily(
    "deepseek-v3",
    ThinkRules("deepseek_v3", engine_sees_reasoning=False),
    DEEPSEEK_V3,
    detect=_detect,
    quirks=DeepSeekV3Template(),
)
FAMILIES = (DEEPSEEK_V3_FAMILY,)
