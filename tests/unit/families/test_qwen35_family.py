"""Qwen3.5 as a family: its real chat template and tokenizer, rendered through the family.

The golden file is the template's own output for a multi-turn tool conversation with an
image (XML tool calls, tool responses folded into a user turn, the template-opened
`<think>`); regenerate it only when the template file changes:
`python -m tests.unit.families.test_qwen35_family > tests/unit/families/golden/qwen35_tools.txt`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.chat.template import ChatTemplateRenderer
from tera_serve.config import ModelConfig
from tera_serve.core.conversation import (
    Conversation,
    ImagePart,
    Message,
    TextPart,
    ToolCallPart,
    ToolSpec,
)
from tera_serve.families.registry import resolve_family
from tests.fixtures.qwen35 import EXPECTED_IDS, qwen35_tokenizer

GOLDEN = Path(__file__).parent / "golden" / "qwen35_tools.txt"
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city"],
    },
)
TOOL_CONVERSATION = (
    Message("system", (TextPart("You are terse."),)),
    Message("user", (TextPart("Weather in Paris and Rome?"),)),
    Message(
        "assistant",
        (),
        reasoning="Two cities: two calls.",
        tool_calls=(
            ToolCallPart("call_1", "get_weather", '{"city": "Paris", "unit": "c"}'),
            ToolCallPart("call_2", "get_weather", '{"city": "Rome"}'),
        ),
    ),
    Message("tool", (TextPart('{"temp": 18}'),), tool_call_id="call_1"),
    Message("tool", (TextPart('{"temp": 24}'),), tool_call_id="call_2"),
    Message("assistant", (TextPart("Paris 18 °C, Rome 24 °C."),)),
    Message(
        "user", (TextPart("And this picture?"), ImagePart("data:image/png;base64,", param="p"))
    ),
)


def _model() -> Any:
    tokenizer = qwen35_tokenizer()
    return SimpleNamespace(
        config=ModelConfig(model="qwen35"),
        renderer=ChatTemplateRenderer(tokenizer),
        tokenizer=tokenizer,
    )


def _render(messages: tuple[Message, ...], **fields: Any) -> ChatPrompt:
    model = _model()
    family = resolve_family(SimpleNamespace(model_type="qwen3_5"), model.tokenizer.chat_template)
    conversation = Conversation(model="m", messages=messages, **fields)
    return asyncio.run(family.render(conversation, model, open_reasoning=False))


def test_the_template_picks_the_qwen35_family() -> None:
    family = resolve_family(SimpleNamespace(model_type="qwen3_5"), qwen35_tokenizer().chat_template)
    assert (family.name, family.reasoning_parser, family.tool_call_parser) == (
        "qwen3.5",
        "qwen3",
        "qwen3_coder",
    )


def test_golden_multi_turn_tool_conversation() -> None:
    prompt = _render(TOOL_CONVERSATION, tools=(WEATHER,))
    assert prompt.text == GOLDEN.read_text()
    # The template opens the think block itself; the parser starts inside reasoning.
    assert prompt.text.endswith("<|im_start|>assistant\n<think>\n")
    assert prompt.thinking_open and not prompt.thinking_disabled
    ids = prompt.token_ids
    assert ids[0] == EXPECTED_IDS["<|im_start|>"]
    assert ids[-2:] == (EXPECTED_IDS["<think>"], 198)
    assert ids.count(EXPECTED_IDS["<|image_pad|>"]) == 1
    assert ids.count(EXPECTED_IDS["<tool_call>"]) == 2 + 2  # two calls; two in the instructions
    assert list(ids) == qwen35_tokenizer().encode(prompt.text, add_special_tokens=False)


def test_enable_thinking_false_closes_the_think_block() -> None:
    user = (Message("user", (TextPart("hi"),)),)
    prompt = _render(user, reasoning_effort="none")
    assert prompt.text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert prompt.thinking_disabled and not prompt.thinking_open


@pytest.mark.parametrize("count", [1, 3])
def test_each_image_gets_one_placeholder_in_place(count: int) -> None:
    parts = [TextPart("compare")]
    parts += [ImagePart("data:image/png;base64,", param=f"p{i}") for i in range(count)]
    prompt = _render((Message("user", tuple(parts)),))
    assert prompt.token_ids.count(EXPECTED_IDS["<|image_pad|>"]) == count
    assert "compare" + "<|vision_start|><|image_pad|><|vision_end|>" * count in prompt.text


def test_a_system_image_is_a_clear_template_error() -> None:
    from tera_serve.errors import InvalidRequestError

    system = Message("system", (ImagePart("data:image/png;base64,", param="p"),))
    with pytest.raises(InvalidRequestError, match="System message cannot contain images"):
        _render((system, Message("user", (TextPart("hi"),))))


if __name__ == "__main__":
    print(_render(TOOL_CONVERSATION, tools=(WEATHER,)).text, end="")
