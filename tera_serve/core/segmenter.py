"""The one place a choice's output is cut into blocks: a family's parser chain says what
each engine delta added (reasoning, answer text, tool-call pieces); the segmenter turns
that into typed events, opening a block whenever the kind of output changes.

It reads the parser's output through the small protocol below (parsing's ParsedDelta has
that shape), so the core depends on no parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tera_serve.core.events import BlockDelta, BlockEnd, BlockKind, BlockStart, OutputEvent
from tera_serve.core.events import ToolCallStart as CallStart

_TEXT, _REASONING = BlockKind.TEXT, BlockKind.REASONING


class CallPiece(Protocol):
    """Part of one tool call; the first piece of a call carries its id and name."""

    @property
    def index(self) -> int: ...

    @property
    def id(self) -> str | None: ...

    @property
    def name(self) -> str | None: ...

    @property
    def arguments(self) -> str: ...


class ParsedPiece(Protocol):
    """What one engine delta added to each part of the message, as a parser read it."""

    @property
    def reasoning(self) -> str: ...

    @property
    def content(self) -> str: ...

    @property
    def tool_calls(self) -> Sequence[CallPiece]: ...


class Segmenter:
    """One choice's blocks. Within one delta the order is reasoning, text, then calls."""

    def __init__(self) -> None:
        self._open: BlockStart | None = None
        self._open_kind: BlockKind | None = None  # the open block's, read per token
        self._count = 0
        self._call_blocks: dict[int, int] = {}

    @property
    def called_tools(self) -> bool:
        return bool(self._call_blocks)

    def feed(self, parsed: ParsedPiece) -> tuple[OutputEvent, ...]:
        reasoning, content, calls = parsed.reasoning, parsed.content, parsed.tool_calls
        # The per-token case: more text of the open block's kind, and nothing else.
        kind = self._open_kind
        if kind is _TEXT and content and not reasoning and not calls:
            return (BlockDelta(self._count - 1, _TEXT, content),)
        if kind is _REASONING and reasoning and not content and not calls:
            return (BlockDelta(self._count - 1, _REASONING, reasoning),)
        events: list[OutputEvent] = []
        if reasoning:
            self._text(BlockKind.REASONING, reasoning, events)
        if content:
            self._text(BlockKind.TEXT, content, events)
        for call in calls:
            self._call(call, events)
        return tuple(events)

    def close(self) -> tuple[OutputEvent, ...]:
        """The output ended: the open block ends."""
        events: list[OutputEvent] = []
        self._end(events)
        return tuple(events)

    def _end(self, events: list[OutputEvent]) -> None:
        if self._open is not None:
            events.append(BlockEnd(self._open.block, self._open.kind))
            self._open = self._open_kind = None

    def _start(
        self, kind: BlockKind, events: list[OutputEvent], call: CallStart | None = None
    ) -> BlockStart:
        self._end(events)
        start = BlockStart(self._count, kind, call)
        self._count += 1  # so the open block is always the last started, _count - 1
        self._open, self._open_kind = start, kind
        events.append(start)
        return start

    def _text(self, kind: BlockKind, text: str, events: list[OutputEvent]) -> None:
        block = self._open
        if block is None or block.kind is not kind:
            block = self._start(kind, events)
        events.append(BlockDelta(block.block, kind, text))

    def _call(self, piece: CallPiece, events: list[OutputEvent]) -> None:
        if piece.id is not None:
            call = CallStart(piece.id, piece.name or "", piece.index)
            self._call_blocks[piece.index] = self._start(BlockKind.TOOL_CALL, events, call).block
        block = self._call_blocks.get(piece.index)
        if block is not None and piece.arguments:
            events.append(BlockDelta(block, BlockKind.TOOL_CALL, piece.arguments))
