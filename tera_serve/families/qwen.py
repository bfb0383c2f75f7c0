"""Qwen3 / Qwen3.5 and the ChatML models that share their formats: `<think>` reasoning,
hermes (`<tool_call>` JSON) or qwen3_coder (`<tool_call>` XML) tool calls, each optional.

Told apart by their templates: `<think>` means reasoning; `<function=` with `<parameter=`
the XML calls, else `<tool_call>` the JSON ones.
"""

from __future__ import annotations

from tera_serve.families.template_family import TemplateFamily, ThinkRules
from tera_serve.parsing.hermes import HERMES
from tera_serve.parsing.qwen3_coder import QWEN3_CODER
from tera_serve.parsing.tool_base import ToolFormat

QWEN3_THINK = ThinkRules("qwen3")


def _formats(chat_template: str) -> tuple[bool, ToolFormat | None]:
    """(reasoning, tool format) as the template shows them."""
    reasoning = "<think>" in chat_template
    if "<function=" in chat_template and "<parameter=" in chat_template:
        return reasoning, QWEN3_CODER
    if "<tool_call>" in chat_template:
        return reasoning, HERMES
    return reasoning, None


def _family(name: str, think: ThinkRules | None, tools: ToolFormat | None) -> TemplateFamily:
    def detect(model_type: str, chat_template: str) -> bool:
        return _formats(chat_template) == (think is not None, tools)

    return TemplateFamily(name, think, tools, detect=detect)


FAMILIES = (
    _family("qwen3.5", QWEN3_THINK, QWEN3_CODER),
    _family("qwen3", QWEN3_THINK, HERMES),
    _family("qwen3", QWEN3_THINK, None),
    _family("qwen3_coder", None, QWEN3_CODER),
    _family("hermes", None, HERMES),
)
