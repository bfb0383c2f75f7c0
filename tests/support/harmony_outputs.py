"""Realistic gpt-oss outputs as token ids, encoded with the harmony library, and a folder
that turns a parser's deltas back into one message."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from openai_harmony import Message, Role

from tera_serve.chat.harmony import harmony_encoding
from tera_serve.parsing.base import OutputParser, ParsedDelta
from tera_serve.parsing.harmony import make_harmony_parser

TOOLS = frozenset({"get_weather", "get_time"})
RETURN, CALL, END, START = 200002, 200012, 200007, 200006


def encoding() -> Any:
    return harmony_encoding()


def text_tokens(text: str) -> list[int]:
    """Harmony text (special tokens written out) → token ids."""
    return list(encoding().encode(text, allowed_special="all"))


def assistant(text: str, channel: str) -> Message:
    return Message.from_role_and_content(Role.ASSISTANT, text).with_channel(channel)


def call(name: str, arguments: str, channel: str = "commentary") -> Message:
    return (
        assistant(arguments, channel)
        .with_recipient(f"functions.{name}")
        .with_content_type("<|constrain|>json")
    )


def completion(*messages: Message, last: int | None = None) -> list[int]:
    """What the model generates after the prompt's `<|start|>assistant`.

    Each message is rendered by harmony; the output's last message ends with `<|return|>`
    (an answer) where harmony's rendering ends a history message with `<|end|>`.
    """
    tokens: list[int] = []
    for message in messages:
        tokens.extend(encoding().render(message))
    assistant_header = text_tokens("<|start|>assistant")
    if tokens[: len(assistant_header)] == assistant_header:
        tokens = tokens[len(assistant_header) :]
    if last is not None and tokens and tokens[-1] == END:
        tokens[-1] = last
    return tokens


@dataclass
class Folded:
    reasoning: str = ""
    content: str = ""
    calls: list[dict[str, str]] = field(default_factory=list)
    reasoning_tokens: int = 0


def counter_ids() -> Callable[[], str]:
    numbers = itertools.count()
    return lambda: f"call_{next(numbers)}"


def new_parser(tools: frozenset[str] = TOOLS, parallel: bool = True) -> OutputParser:
    return make_harmony_parser(harmony_encoding(), tools, parallel, new_call_id=counter_ids())


def fold(parser: OutputParser, chunks: Iterable[Sequence[int]]) -> Folded:
    """Feed the chunks, then finish; check the tool-call delta protocol on the way."""
    deltas: list[ParsedDelta] = [parser.feed(list(chunk), "") for chunk in chunks]
    deltas.append(parser.finish())
    out = Folded()
    for delta in deltas:
        out.reasoning += delta.reasoning
        out.content += delta.content
        for piece in delta.tool_calls:
            if piece.index == len(out.calls):
                # The first delta of a call carries its id and name, in index order.
                if piece.id is None or piece.name is None:
                    raise AssertionError(f"first delta of call {piece.index} lacks id/name")
                out.calls.append({"id": piece.id, "name": piece.name, "arguments": ""})
            elif piece.id is not None or piece.name is not None or piece.index > len(out.calls):
                raise AssertionError(f"unexpected tool-call delta {piece}")
            out.calls[piece.index]["arguments"] += piece.arguments
    out.reasoning_tokens = parser.reasoning_tokens
    return out


def chunked(tokens: Sequence[int], sizes: Sequence[int]) -> list[list[int]]:
    """Split `tokens` into chunks of the given sizes (cycled); empty chunks included."""
    chunks: list[list[int]] = []
    position = 0
    for size in itertools.cycle(sizes if any(sizes) else [1]):
        if position >= len(tokens):
            break
        chunks.append(list(tokens[position : position + size]))
        position += size
    return chunks
