"""A rendered chat prompt and what the output parser must know about how it ends."""

from __future__ import annotations

from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


@dataclass(frozen=True)
class ChatPrompt:
    text: str
    token_ids: tuple[int, ...]
    stop_token_ids: tuple[int, ...] = ()
    skip_special_tokens: bool = True
    thinking_open: bool = False
    """The prompt already opened a reasoning block (`<think>` at its end)."""
    thinking_disabled: bool = False
    """The prompt closed or disabled reasoning, so the output starts with content (the
    engine is told reasoning has ended, so a grammar applies from the first token)."""
    parser_prefix: tuple[int, ...] = ()
    """Tokens appended to the rendered prompt that the output parser must see first
    (e.g. the harmony header that opens the final channel when reasoning is off)."""
