"""The OutputParser protocol and the events it produces.

A parser is created per choice, owns its state, and is fed each engine delta (token ids and
their text) once. Its cost per delta is independent of how much output came before.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Protocol

_ID_ALPHABET = string.ascii_letters + string.digits


def new_tool_call_id() -> str:
    """`call_` and 24 random letters and digits, as OpenAI's ids look."""
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


@dataclass(frozen=True)
class ToolCallDelta:
    """Part of one tool call. The first delta of a call carries id and name."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class ParsedDelta:
    """What one fed delta contributed to each field of the message."""

    reasoning: str = ""
    content: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.reasoning or self.content or self.tool_calls)

    def extend(self, other: ParsedDelta) -> None:
        self.reasoning += other.reasoning
        self.content += other.content
        self.tool_calls.extend(other.tool_calls)


class OutputParser(Protocol):
    """One parser stage (see parsing/chain.py): fed deltas, returning what they decided."""

    def feed(self, token_ids: list[int], text: str) -> ParsedDelta:
        """Consume one engine delta; return what can be emitted now."""
        ...

    def finish(self) -> ParsedDelta:
        """The output ended: flush whatever was held back."""
        ...

    @property
    def reasoning_tokens(self) -> int:
        """How many generated tokens belonged to reasoning so far."""
        ...


class PlainParser:
    """For models without reasoning or tools: every token is content."""

    reasoning_tokens = 0

    def feed(self, token_ids: list[int], text: str) -> ParsedDelta:
        return ParsedDelta(content=text)

    def finish(self) -> ParsedDelta:
        return ParsedDelta()
