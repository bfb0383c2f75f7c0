"""Replaying realistic model outputs through a parser, the way the engine delivers them.

An output string is encoded with the real Qwen3 tokenizer and decoded back one token at a
time like vLLM's incremental detokenizer: a token that ends inside a UTF-8 character yields
no text until the character is complete. The special end token `<|im_end|>` yields no text.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tera_serve.parsing.base import OutputParser, ParsedDelta
from tests.fixtures.qwen3 import qwen3_tokenizer

Feed = tuple[list[int], str]
TAG_FRAGMENTS = ("<think", "</think", "<tool_call", "</tool_call", "<function=", "<parameter=")


def tag_ids() -> dict[str, int]:
    tokenizer = qwen3_tokenizer()
    tags = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<|im_end|>")
    return {tag: int(tokenizer.convert_tokens_to_ids(tag)) for tag in tags}


@functools.cache
def token_feeds(
    text: str, *, eos: bool = True, tokenizer: Any = None, eos_token: str = "<|im_end|>"
) -> tuple[tuple[int, str], ...]:
    """(token id, text delta) per generated token of `text` (Qwen3's tokenizer unless given)."""
    tokenizer = tokenizer or qwen3_tokenizer()
    ids = list(tokenizer.encode(text, add_special_tokens=False))
    if eos:
        ids.append(int(tokenizer.convert_tokens_to_ids(eos_token)))
    out: list[tuple[int, str]] = []
    emitted = ""
    for end in range(1, len(ids) + 1):
        decoded = tokenizer.decode(ids[:end], skip_special_tokens=True)
        if decoded.endswith("\ufffd"):  # an incomplete UTF-8 character: wait for the rest
            out.append((ids[end - 1], ""))
            continue
        out.append((ids[end - 1], decoded[len(emitted) :]))
        emitted = decoded
    if emitted != tokenizer.decode(ids, skip_special_tokens=True):
        raise AssertionError("incremental decoding diverged from the full decode")
    return tuple(out)


def whole(feeds: Sequence[tuple[int, str]]) -> list[Feed]:
    return [([tid for tid, _ in feeds], "".join(text for _, text in feeds))]


def per_token(feeds: Sequence[tuple[int, str]]) -> list[Feed]:
    return [([tid], text) for tid, text in feeds]


def regroup(feeds: Sequence[tuple[int, str]], cuts: Sequence[bool]) -> list[Feed]:
    """Consecutive tokens grouped into deltas; cuts[i] ends a delta after token i."""
    groups: list[Feed] = [([], "")]
    for position, (tid, text) in enumerate(feeds):
        ids, acc = groups[-1]
        groups[-1] = ([*ids, tid], acc + text)
        if position < len(cuts) and cuts[position]:
            groups.append(([], ""))
    return [group for group in groups if group[0] or group[1]]


def split_text(feeds: Sequence[tuple[int, str]], cuts: Sequence[int]) -> list[Feed]:
    """The text cut at arbitrary character positions; all token ids ride on the last delta."""
    text = "".join(t for _, t in feeds)
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < len(text)), len(text)]
    pieces: list[Feed] = [([], text[a:b]) for a, b in itertools.pairwise(bounds)]
    pieces.append(([tid for tid, _ in feeds], ""))
    return pieces


@dataclass(frozen=True)
class Call:
    name: str
    arguments: str
    id: str | None = None


@dataclass
class Message:
    reasoning: str = ""
    content: str = ""
    calls: list[Call] = field(default_factory=list)
    reasoning_tokens: int = 0
    fragments: dict[int, list[str]] = field(default_factory=dict)
    deltas: list[ParsedDelta] = field(default_factory=list)


def run(make: Callable[[], OutputParser], feeds: Sequence[Feed]) -> Message:
    """Feed every delta, then finish; fold the output like the non-stream response does."""
    parser = make()
    deltas = [parser.feed(ids, text) for ids, text in feeds]
    deltas.append(parser.finish())
    message = Message(deltas=deltas)
    names: dict[int, str] = {}
    ids: dict[int, str] = {}
    for delta in deltas:
        message.reasoning += delta.reasoning
        message.content += delta.content
        for part in delta.tool_calls:
            if part.id is not None:
                ids[part.index] = part.id
            if part.name is not None:
                names[part.index] = part.name
            message.fragments.setdefault(part.index, []).append(part.arguments)
    message.calls = [
        Call(names.get(i, ""), "".join(message.fragments[i]), ids.get(i))
        for i in sorted(message.fragments)
    ]
    message.reasoning_tokens = parser.reasoning_tokens
    return message


def final(message: Message) -> tuple[str, str, list[Call], int]:
    """What the client ends up with (the comparison key between feeding strategies)."""
    return message.reasoning, message.content, message.calls, message.reasoning_tokens
