"""Finding literal tags in streamed text without rescanning what was already consumed.

Parsers keep only an unconsumed tail: the text after the last decision, which is at most a
partial tag. Each search covers that tail plus the new delta, so cost per delta is flat.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_NON_SPACE = re.compile(r"\S")


@dataclass(frozen=True)
class CallTags:
    """The literal tags around one tool call, and around a run of calls when the format
    wraps them (DeepSeek's `<｜tool▁calls▁begin｜>`; the wrapper's tags are dropped)."""

    open: str
    close: str
    block_open: str | None = None
    block_close: str | None = None

    @property
    def first(self) -> str:
        """The tag that starts the calls section of an output (it ends reasoning)."""
        return self.block_open or self.open

    def block_tags(self) -> tuple[str, ...]:
        return tuple(t for t in (self.block_open, self.block_close) if t is not None)


TOOL_CALL_TAGS = CallTags("<tool_call>", "</tool_call>")
"""Qwen's tags, shared by the hermes and qwen3_coder formats."""


class TagSet:
    """A fixed set of tags to look for, with their proper prefixes precomputed."""

    __slots__ = ("_longest", "_prefixes", "tags")

    def __init__(self, tags: tuple[str, ...]) -> None:
        self.tags = tags
        self._longest = max(len(tag) for tag in tags)
        self._prefixes = frozenset(tag[:n] for tag in tags for n in range(1, len(tag)))

    def find(self, text: str, start: int = 0) -> tuple[int, str] | None:
        """The earliest tag in `text[start:]` (the longest one on a tie) and its position."""
        best: tuple[int, str] | None = None
        for tag in self.tags:
            at = text.find(tag, start)
            if at == -1:
                continue
            if best is None or at < best[0] or (at == best[0] and len(tag) > len(best[1])):
                best = (at, tag)
        return best

    def scan(self, text: str, start: int = 0) -> tuple[int, str | None, bool]:
        """The one "find a tag or hold a possible partial tag" step every parser takes.

        Returns `(end, tag, held)`: `text[start:end]` is decided text; `tag` is the tag found
        at `end` (None when there is none); `held` says `text[end:]` may still become a tag
        and must wait for the next delta.
        """
        found = self.find(text, start)
        if found is not None:
            return found[0], found[1], False
        keep = self.held_len(text, start)
        return len(text) - keep, None, keep > 0

    def held_len(self, text: str, start: int = 0) -> int:
        """Length of the longest suffix of `text[start:]` that could still become a tag."""
        lowest = max(start, len(text) - self._longest + 1)
        for at in range(lowest, len(text)):
            if text[at:] in self._prefixes:
                return len(text) - at
        return 0

    def is_prefix(self, text: str) -> bool:
        """Whether `text` is a proper prefix of one of the tags."""
        return text in self._prefixes


@functools.cache
def tag_set(*tags: str) -> TagSet:
    """One TagSet per distinct tuple of tags (parsers are made per choice; the sets are not)."""
    return TagSet(tags)


def skip_space(text: str, start: int) -> int:
    """Index of the first non-whitespace character at or after `start` (or len(text))."""
    match = _NON_SPACE.search(text, start)
    return match.start() if match else len(text)
