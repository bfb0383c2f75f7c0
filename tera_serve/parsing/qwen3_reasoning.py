"""Splits Qwen3 / Qwen3.5 output into reasoning (`<think>...</think>`) and content.

Where the output starts is known from the prompt: the model opens `<think>` itself, the
prompt already opened it (`thinking_open`: only `</think>` comes), or thinking is disabled
(content, though the model may still emit an empty `<think>\n\n</think>`). The start of a
tool call (the stage's `calls_open` tag: `<tool_call>` for Qwen) inside an unclosed think
block ends the reasoning (Qwen3.5 does this); output cut off inside
the block is all reasoning. Newlines around the reasoning and before the content are dropped,
as Qwen's own template does when it renders the message back. The block's tags never reach
either field; a partial tag at the end of a delta is held until the next one decides it.
After the block, text passes through as written: the answer (or a tool call's arguments)
may legitimately contain the characters `<think>`.

Reasoning tokens are counted on token ids (the tags are single tokens in Qwen3's vocabulary),
so the count does not depend on how the text was cut into deltas.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from tera_serve.parsing.base import ParsedDelta
from tera_serve.parsing.tags import TOOL_CALL_TAGS, TagSet, skip_space, tag_set

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
_START_TAGS = TagSet((THINK_OPEN, THINK_CLOSE))


@dataclass(frozen=True)
class ThinkTokenIds:
    think_open: int
    think_close: int
    tool_call_open: int | None = None

    @classmethod
    def from_tokenizer(
        cls, tokenizer: Any, calls_open: str = TOOL_CALL_TAGS.first
    ) -> ThinkTokenIds | None:
        """The tags' ids when each is one token of this vocabulary, else None."""
        ids: list[int | None] = []
        for tag in (THINK_OPEN, THINK_CLOSE, calls_open):
            try:
                token_id = tokenizer.convert_tokens_to_ids(tag)
                same = tokenizer.convert_ids_to_tokens(token_id) == tag
            except (AttributeError, KeyError, TypeError, ValueError, IndexError):
                token_id, same = None, False
            ids.append(token_id if same and isinstance(token_id, int) else None)
        think_open, think_close, tool_call_open = ids
        if think_open is None or think_close is None:
            return None
        return cls(think_open, think_close, tool_call_open)


class _Phase(enum.Enum):
    START = "start"  # may open with <think>
    REASONING = "reasoning"
    AFTER_THINK = "after_think"  # dropping newlines after </think>
    CONTENT = "content"


class _Count(enum.Enum):
    BEFORE = "before"
    IN = "in"
    DONE = "done"


class Qwen3ReasoningSplitter:
    """A parser stage: feed text deltas (with their token ids); get reasoning and content."""

    def __init__(
        self,
        *,
        thinking_open: bool = False,
        thinking_disabled: bool = False,
        token_ids: ThinkTokenIds | None = None,
        calls_open: str = TOOL_CALL_TAGS.first,
    ) -> None:
        self._reasoning_tags = tag_set(THINK_CLOSE, THINK_OPEN, calls_open)
        opened = thinking_open and not thinking_disabled
        self._phase = _Phase.REASONING if opened else _Phase.START
        self._entered = opened  # the text ever entered a think block
        self._ids = token_ids
        self._count_phase = _Count.IN if opened else _Count.BEFORE
        self._tokens = 0
        self._tail = ""
        self._need_more = False
        self._started = False  # reasoning text began (leading newlines dropped)
        self._newlines = 0  # trailing newlines of the reasoning, held
        self._lead_space: list[str] = []  # whitespace before a possible <think>
        self._reasoning: list[str] = []
        self._content: list[str] = []

    @property
    def reasoning_tokens(self) -> int:
        return self._tokens

    def feed(self, token_ids: list[int], text: str) -> ParsedDelta:
        was_reasoning = self._phase is _Phase.REASONING
        was_entered = self._entered
        buf = self._tail + text if self._tail else text
        self._tail = ""
        at = 0
        while at < len(buf):
            self._need_more = False
            at = self._step(buf, at)
            if self._need_more:
                self._tail = buf[at:]
                break
        self._count(token_ids, was_reasoning or (self._entered and not was_entered))
        return self._take()

    def finish(self) -> ParsedDelta:
        tail, self._tail = self._tail, ""
        if self._phase is _Phase.REASONING:
            self._reason(tail)  # text that only looked like the start of a tag
        else:
            self._content.extend(self._lead_space)
            self._content.append(tail)
        self._lead_space.clear()
        return self._take()

    def _take(self) -> ParsedDelta:
        reasoning = "".join(self._reasoning)
        content = "".join(self._content)
        self._reasoning.clear()
        self._content.clear()
        return ParsedDelta(reasoning=reasoning, content=content)

    def _hold(self, at: int) -> int:
        self._need_more = True
        return at

    def _step(self, buf: str, at: int) -> int:
        phase = self._phase
        if phase is _Phase.REASONING:
            return self._reasoning_step(buf, at)
        if phase is _Phase.CONTENT:
            self._content.append(buf[at:])
            return len(buf)
        if phase is _Phase.AFTER_THINK:
            pos = at
            while pos < len(buf) and buf[pos] == "\n":
                pos += 1
            if pos < len(buf):
                self._phase = _Phase.CONTENT
            return pos
        return self._start_step(buf, at)

    def _start_step(self, buf: str, at: int) -> int:
        # Leading whitespace is kept aside (not in the tail): it is never scanned twice.
        pos = skip_space(buf, at)
        self._lead_space.append(buf[at:pos])
        rest = buf[pos:]
        if rest.startswith(THINK_OPEN):
            self._phase, self._entered = _Phase.REASONING, True
            self._lead_space.clear()
            return pos + len(THINK_OPEN)
        if rest.startswith(THINK_CLOSE):  # an empty block whose <think> was in the prompt
            self._phase = _Phase.AFTER_THINK
            self._lead_space.clear()
            return pos + len(THINK_CLOSE)
        if not rest:
            return pos
        if _START_TAGS.is_prefix(rest):
            return self._hold(pos)  # a partial <think> may still open a block
        self._phase = _Phase.CONTENT
        self._content.extend(self._lead_space)
        self._lead_space.clear()
        return pos

    def _reasoning_step(self, buf: str, at: int) -> int:
        start, tag, held = self._reasoning_tags.scan(buf, at)
        self._reason(buf[at:start])
        if tag is None:
            return self._hold(start) if held else start
        if tag == THINK_OPEN:
            return start + len(tag)  # a repeated opening tag: drop it
        self._newlines = 0  # the reasoning ends here: its trailing newlines go
        if tag == THINK_CLOSE:
            self._phase = _Phase.AFTER_THINK
            return start + len(tag)
        self._phase = _Phase.CONTENT
        return start  # the call's tag is content, for the tool parser

    def _reason(self, text: str) -> None:
        if not self._started:
            text = text.lstrip("\n")
            if not text:
                return
            self._started = True
        body = text.rstrip("\n")
        trailing = len(text) - len(body)
        if body:
            self._reasoning.append("\n" * self._newlines + body)
            self._newlines = trailing
        else:
            self._newlines += trailing

    def _count(self, token_ids: list[int], touched_reasoning: bool) -> None:
        ids = self._ids
        if ids is None:
            # No single-token tags in this vocabulary: count whole deltas that touched reasoning.
            if touched_reasoning or self._phase is _Phase.REASONING:
                self._tokens += len(token_ids)
            return
        for token_id in token_ids:
            if self._count_phase is _Count.IN:
                if token_id == ids.tool_call_open:
                    self._count_phase = _Count.DONE
                    continue
                self._tokens += 1
                if token_id == ids.think_close:
                    self._count_phase = _Count.DONE
            elif (
                self._count_phase is _Count.BEFORE and token_id == ids.think_open and self._entered
            ):
                self._count_phase = _Count.IN
                self._tokens += 1
