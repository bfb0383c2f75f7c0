"""Messages survive the JSON round trip exactly, through real JSON bytes; damage is refused."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from tera_serve.core.conversation import ImagePart, Message, TextPart, ToolCallPart
from tera_serve.service.conversation_codec import (
    CodecError,
    message_from_json,
    message_to_json,
    messages_from_json,
    messages_to_json,
)

EVERY_KIND = (
    Message(role="system", parts=(TextPart("Be brief."),)),
    Message(role="developer", parts=(TextPart(""),)),
    Message(
        role="user",
        parts=(
            TextPart('What is in these pictures? 🌊 \x00 "quoted"'),
            ImagePart(url="data:image/png;base64,iVBORw0KGgo="),
            ImagePart(url="https://example.com/a.jpg", detail="low", param="input[0].content[2]"),
        ),
        name="alice",
    ),
    Message(
        role="assistant",
        parts=(TextPart("Let me look."),),
        tool_calls=(
            ToolCallPart(id="call_1", name="lookup", arguments='{"q": "sea"}'),
            ToolCallPart(id=None, name="other", arguments=""),
        ),
        reasoning="The user wants a description.",
    ),
    Message(role="tool", parts=(TextPart("42"),), tool_call_id="call_1"),
    Message(role="assistant"),
    Message(role="assistant", reasoning=""),
)


def _through_bytes(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    return messages_from_json(orjson.loads(orjson.dumps(messages_to_json(messages))))


def test_every_role_part_and_field_round_trips() -> None:
    assert _through_bytes(EVERY_KIND) == EVERY_KIND
    for message in EVERY_KIND:
        assert message_from_json(message_to_json(message)) == message


def test_defaults_are_left_out() -> None:
    assert message_to_json(Message(role="user", parts=(TextPart("hi"),))) == {
        "role": "user",
        "parts": [{"type": "text", "text": "hi"}],
    }
    assert message_to_json(Message(role="user", parts=(ImagePart(url="u"),)))["parts"] == [
        {"type": "image", "url": "u"}
    ]


def test_the_codec_knows_every_field_of_the_core_types() -> None:
    """A field added to a core type must be added here too (or it would be lost on disk)."""
    known = {
        Message: {"role", "parts", "name", "tool_call_id", "tool_calls", "reasoning"},
        TextPart: {"text"},
        ImagePart: {"url", "detail", "param"},
        ToolCallPart: {"id", "name", "arguments"},
    }
    for cls, names in known.items():
        assert {f.name for f in dataclasses.fields(cls)} == names, cls.__name__


@pytest.mark.parametrize(
    "value",
    [
        {"role": "robot"},
        {"role": "user", "parts": [{"type": "audio", "data": ""}]},
        {"role": "user", "parts": [{"type": "text"}]},
        {"role": "user", "parts": [{"type": "text", "text": 1}]},
        {"role": "user", "parts": {"type": "text", "text": "x"}},
        {"role": "user", "parts": [{"type": "image", "url": "u", "param": 3}]},
        {"role": "user", "parts": [{"type": "text", "text": "x", "extra": 1}]},
        {"role": "user", "surprise": True},
        {"role": "assistant", "tool_calls": [{"name": "f"}]},
        {"role": "assistant", "tool_calls": [{"id": 1, "name": "f", "arguments": ""}]},
        {"role": "assistant", "reasoning": 3},
        ["role", "user"],
    ],
)
def test_damaged_values_are_refused(value: Any) -> None:
    with pytest.raises(CodecError):
        message_from_json(value)


def test_a_history_is_a_list() -> None:
    with pytest.raises(CodecError):
        messages_from_json({"role": "user"})
    assert messages_from_json([]) == ()
