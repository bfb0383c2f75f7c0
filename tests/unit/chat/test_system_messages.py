"""Where system and developer messages go: the placement rule, and the probe that asks each
real template whether it renders a later system message in place."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tera_serve.chat.system_messages import (
    place_instructions,
    probe_messages,
    renders_late_system,
)
from tera_serve.chat.template import ChatTemplateRenderer
from tera_serve.core.conversation import ImagePart, Message, Role, TextPart
from tests.fixtures.qwen3 import qwen3_tokenizer
from tests.fixtures.qwen35 import qwen35_tokenizer
from tests.fixtures.smollm2 import smollm2_tokenizer

GPT_OSS_TEMPLATE = Path(__file__).parents[2] / "fixtures" / "gpt_oss_files" / "chat_template.jinja"


def _text(role: Role, text: str) -> Message:
    return Message(role, (TextPart(text),))


def _shape(messages: tuple[Message, ...]) -> list[tuple[str, str]]:
    return [(m.role, m.text()) for m in messages]


CODEX_LIKE = (
    _text("developer", "A"),
    _text("developer", "B"),
    _text("user", "U1"),
    _text("system", "LATE"),
    _text("assistant", "R1"),
    _text("developer", "MID"),
    _text("user", "U2"),
)


def test_developer_is_system_and_the_leading_run_is_one_message() -> None:
    placed = place_instructions(CODEX_LIKE[:3], late_in_place=True)
    assert _shape(placed) == [("system", "A\n\nB"), ("user", "U1")]


def test_later_ones_stay_in_place_where_the_template_renders_them() -> None:
    placed = place_instructions(CODEX_LIKE, late_in_place=True)
    assert _shape(placed) == [
        ("system", "A\n\nB"),
        ("user", "U1"),
        ("system", "LATE"),
        ("assistant", "R1"),
        ("system", "MID"),
        ("user", "U2"),
    ]


def test_later_ones_join_the_leading_message_in_order_otherwise() -> None:
    placed = place_instructions(CODEX_LIKE, late_in_place=False)
    assert _shape(placed) == [
        ("system", "A\n\nB\n\nLATE\n\nMID"),
        ("user", "U1"),
        ("assistant", "R1"),
        ("user", "U2"),
    ]


def test_a_late_system_message_alone_becomes_the_leading_one() -> None:
    # Claude Code's first request: the user turn, then a system message.
    messages = (_text("user", "say hello"), _text("system", "# Environment"))
    assert _shape(place_instructions(messages, late_in_place=False)) == [
        ("system", "# Environment"),
        ("user", "say hello"),
    ]


def test_an_ordinary_conversation_is_left_as_it_is() -> None:
    messages = (_text("system", "S"), _text("user", "U"), _text("assistant", "R"))
    assert place_instructions(messages, late_in_place=False) == messages


def test_empty_instruction_messages_add_no_blank_lines() -> None:
    messages = (_text("system", ""), Message("developer"), _text("system", "S"), _text("user", "U"))
    assert _shape(place_instructions(messages, late_in_place=False)) == [
        ("system", "S"),
        ("user", "U"),
    ]


def test_a_late_message_with_an_image_is_not_moved() -> None:
    # Moving it would put its image before the user's images, against their placeholders.
    image = Message("system", (TextPart("look"), ImagePart("data:image/png;base64,")))
    messages = (_text("user", "U"), image)
    assert place_instructions(messages, late_in_place=False) == messages


def test_a_leading_image_keeps_its_place_among_the_parts() -> None:
    picture = ImagePart("data:image/png;base64,")
    messages = (Message("system", (TextPart("a"), picture)), _text("developer", "b"))
    (merged,) = place_instructions(messages, late_in_place=False)
    assert merged.parts == (TextPart("a"), picture, TextPart("\n\n"), TextPart("b"))


@pytest.mark.parametrize(
    ("tokenizer", "template", "in_place"),
    [
        pytest.param(qwen3_tokenizer, None, True, id="qwen3-renders-it-in-place"),
        pytest.param(smollm2_tokenizer, None, True, id="smollm2-renders-it-in-place"),
        pytest.param(qwen35_tokenizer, None, False, id="qwen3.5-raises"),
        pytest.param(qwen3_tokenizer, GPT_OSS_TEMPLATE, False, id="gpt-oss-jinja-drops-it"),
    ],
)
def test_the_probe_reads_each_real_template(
    tokenizer: Any, template: Path | None, in_place: bool
) -> None:
    renderer = ChatTemplateRenderer(tokenizer(), template.read_text() if template else None)
    assert renders_late_system(renderer.render_text) is in_place
    assert asyncio.run(renderer.late_system_in_place()) is in_place


def test_a_template_that_drops_or_misplaces_it_does_not_pass() -> None:
    texts = [m["content"] for m in probe_messages()]
    assert not renders_late_system(lambda _: "".join(texts[:3] + texts[4:]))  # dropped
    assert not renders_late_system(lambda _: texts[3] + "".join(texts[:3] + texts[4:]))  # hoisted
    assert renders_late_system(lambda _: "".join(texts))


def test_a_request_template_is_not_probed() -> None:
    # The client's template runs in the sandbox for the request only; its later system
    # messages are merged, the shape every chat template accepts.
    renderer = ChatTemplateRenderer(qwen3_tokenizer())
    assert asyncio.run(renderer.late_system_in_place("{{ messages }}")) is False
