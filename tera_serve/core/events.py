"""The protocol-neutral output of a generation: typed events, grouped per engine step.

A choice's output is a sequence of blocks, each of one kind: reasoning, answer text, or
one tool call. `core/segmenter.py` is the one place that decides where a block starts and
ends; every wire encoder maps these events to its frames, and every non-stream answer is
the fold of the same events, so no protocol works out the blocks again.

    Step(choice 0): BlockStart(0, reasoning) BlockDelta(0, "Let me") ...
    Step(choice 0): BlockEnd(0) BlockStart(1, tool_call, id, name) BlockDelta(1, '{"a"')
    Step(choice 0): BlockDelta(1, ': 1}') BlockEnd(1)  end=ChoiceEnd("stop", called_tools)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from tera_serve.core.logprobs import PositionLogprobs


class BlockKind(enum.Enum):
    REASONING = "reasoning"
    TEXT = "text"
    TOOL_CALL = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    """What a tool-call block opens with: its id, the tool's name, and its ordinal among
    the choice's calls (0, 1, ...)."""

    call_id: str
    name: str
    ordinal: int


@dataclass(frozen=True, slots=True)
class BlockStart:
    block: int
    """The block's position in the choice's output (0, 1, ...)."""
    kind: BlockKind
    call: ToolCallStart | None = None
    """Set for tool-call blocks only."""


@dataclass(slots=True)
class BlockDelta:
    """More of the open block: reasoning text, answer text, or a piece of a tool call's
    JSON arguments. Made per token: not frozen, as a frozen dataclass costs three times as
    much to build (each field set through object.__setattr__); never changed once made."""

    block: int
    kind: BlockKind
    text: str


@dataclass(frozen=True, slots=True)
class BlockEnd:
    block: int
    kind: BlockKind


OutputEvent = BlockStart | BlockDelta | BlockEnd

FinishReason = Literal["stop", "length"]
"""`stop`: the model ended its answer (end of sequence, a stop token or a stop string);
`length`: the token limit cut it. What each wire calls them is the encoder's business."""


@dataclass(frozen=True, slots=True)
class ChoiceEnd:
    reason: FinishReason
    called_tools: bool
    """The choice made at least one tool call."""
    stop_sequence: str | None
    """The client's stop string that ended the choice, if one did."""
    reasoning_tokens: int
    """Tokens of the whole choice that belonged to reasoning."""


@dataclass(slots=True)
class Step:
    """What one engine delta of one choice produced. Made per token: not frozen (see
    BlockDelta); never changed once made."""

    choice: int
    events: tuple[OutputEvent, ...]
    new_tokens: int
    logprobs: list[PositionLogprobs] | None = None
    end: ChoiceEnd | None = None
    """Set on the choice's last step (after its last block has ended)."""
    prompt_logprobs: list[PositionLogprobs | None] | None = None
    cached_tokens: int | None = None
    """Both from the engine's first delta of the choice."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of a whole response (all its choices)."""

    prompt_tokens: int
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens the engine's prefix cache served (counted once per prompt)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
