"""Events → Anthropic Messages: the SSE event sequence, or one folded `message` body.

The core's blocks map one to one: reasoning is a `thinking` block (closed with a
`signature_delta`), text a `text` block, each tool call a `tool_use` block whose arguments
stream as `input_json_delta`. The fold builds the same blocks from the same steps, so a
stream and its non-stream twin cannot disagree. `message_start` goes out with the first
step, when the engine has said how much of the prompt its cache served. With
`thinking.display: "omitted"` (`omit_thinking`) a thinking block keeps its start and its
signature (over the text) but carries no text: no `thinking_delta` in the stream, an empty
`thinking` in the fold, as Anthropic answers.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from tera_serve.adapters.messages_errors import anthropic_error_body
from tera_serve.core.encoding import NothingToComplete
from tera_serve.core.events import (
    BlockDelta,
    BlockEnd,
    BlockKind,
    BlockStart,
    ChoiceEnd,
    Step,
    Usage,
)
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.errors import TeraError

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}

_DELTA_HEAD = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
_TEXT_HEAD = _DELTA_HEAD + b'"delta":{"type":"text_delta","text":'
_THINKING_HEAD = _DELTA_HEAD + b'"delta":{"type":"thinking_delta","thinking":'


@dataclass(frozen=True)
class MessagesOptions:
    omit_thinking: bool = False
    """`thinking.display: "omitted"`: thinking blocks keep their signature, not their text."""


def message_id(answer: PreparedAnswer) -> str:
    return "msg_" + answer.request_id


def event_frame(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def stop_reason(end: ChoiceEnd | None) -> str:
    if end is None:
        return "end_turn"
    if end.stop_sequence is not None:
        return "stop_sequence"
    if end.called_tools and end.reason == "stop":
        return "tool_use"
    return _STOP_REASONS[end.reason]


def usage_body(usage: Usage) -> dict[str, Any]:
    """Anthropic's three input figures add up to the prompt: `input_tokens` is the part the
    prefix cache did not serve (clients add them up to size their context)."""
    return {
        "input_tokens": usage.prompt_tokens - usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
    }


class Signer:
    """A `thinking` block's signature: a digest of its text, so a replayed block can be
    told apart from an edited one (tera-serve keeps no reasoning state between turns)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, text: str) -> None:
        self._hash.update(text.encode())

    def signature(self) -> str:
        return base64.b64encode(self._hash.digest()).decode()


def _opening(start: BlockStart) -> dict[str, Any]:
    """The `content_block` a block starts with."""
    if start.call is not None:
        return {"type": "tool_use", "id": start.call.call_id, "name": start.call.name, "input": {}}
    if start.kind is BlockKind.REASONING:
        return {"type": "thinking", "thinking": "", "signature": ""}
    return {"type": "text", "text": ""}


class MessagesStreamEncoder(NothingToComplete):
    """One streamed message (Messages has one choice)."""

    def __init__(self, answer: PreparedAnswer, options: MessagesOptions) -> None:
        self._answer = answer
        self._omit_thinking = options.omit_thinking
        self._started = False
        self._open = -1
        self._signer = Signer()
        self._end: ChoiceEnd | None = None

    def start_frames(self) -> list[bytes]:
        return []

    def _message_start(self, cached_tokens: int | None) -> list[bytes]:
        self._started = True
        usage = Usage(self._answer.prompt_tokens, cached_tokens=cached_tokens or 0)
        message: dict[str, Any] = {
            "id": message_id(self._answer),
            "type": "message",
            "role": "assistant",
            "model": self._answer.model_id,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_body(usage),
        }
        return [
            event_frame("message_start", {"type": "message_start", "message": message}),
            event_frame("ping", {"type": "ping"}),
        ]

    def _delta_frame(self, block: int, delta: dict[str, Any]) -> bytes:
        return event_frame(
            "content_block_delta", {"type": "content_block_delta", "index": block, "delta": delta}
        )

    def _text_delta(self, event: BlockDelta) -> bytes:
        """The hot path: the bytes `_delta_frame` would give, from a pre-serialized head."""
        head = _THINKING_HEAD if event.kind is BlockKind.REASONING else _TEXT_HEAD
        return head % event.block + orjson.dumps(event.text) + b"}}\n\n"

    def _start(self, event: BlockStart) -> bytes:
        self._open = event.block
        payload = {"type": "content_block_start", "index": event.block}
        return event_frame("content_block_start", {**payload, "content_block": _opening(event)})

    def _delta(self, event: BlockDelta, frames: list[bytes]) -> None:
        if event.kind is BlockKind.TOOL_CALL:
            if event.block == self._open:
                delta = {"type": "input_json_delta", "partial_json": event.text}
                frames.append(self._delta_frame(event.block, delta))
            return
        if event.kind is BlockKind.REASONING:
            self._signer.add(event.text)
            if self._omit_thinking:
                return
        frames.append(self._text_delta(event))

    def _stop(self, event: BlockEnd, frames: list[bytes]) -> None:
        if event.kind is BlockKind.REASONING:
            delta = {"type": "signature_delta", "signature": self._signer.signature()}
            self._signer = Signer()
            frames.append(self._delta_frame(event.block, delta))
        stop = {"type": "content_block_stop", "index": event.block}
        frames.append(event_frame("content_block_stop", stop))

    def frames(self, step: Step) -> list[bytes]:
        events = step.events
        if len(events) == 1 and self._started and step.end is None:
            event = events[0]  # the per-token case: one more piece of the open text
            if type(event) is BlockDelta and event.kind is BlockKind.TEXT:
                return [_TEXT_HEAD % event.block + orjson.dumps(event.text) + b"}}\n\n"]
        frames = [] if self._started else self._message_start(step.cached_tokens)
        for event in step.events:
            if type(event) is BlockDelta:
                self._delta(event, frames)
            elif type(event) is BlockStart:
                frames.append(self._start(event))
            elif type(event) is BlockEnd:
                self._stop(event, frames)
        if step.end is not None:
            self._end = step.end
        return frames

    def end_frames(self, usage: Usage) -> list[bytes]:
        delta = {
            "type": "message_delta",
            "delta": {
                "stop_reason": stop_reason(self._end),
                "stop_sequence": self._end.stop_sequence if self._end else None,
            },
            "usage": usage_body(usage),
        }
        frames = [] if self._started else self._message_start(None)
        return [
            *frames,
            event_frame("message_delta", delta),
            event_frame("message_stop", {"type": "message_stop"}),
        ]

    def error_frames(self, error: TeraError) -> list[bytes]:
        return [event_frame("error", anthropic_error_body(error))]


@dataclass
class _FoldedBlock:
    start: BlockStart
    text: list[str] = field(default_factory=list)


class MessagesFolder(NothingToComplete):
    def __init__(self, answer: PreparedAnswer, options: MessagesOptions) -> None:
        self._answer = answer
        self._omit_thinking = options.omit_thinking
        self._blocks: dict[int, _FoldedBlock] = {}
        self._end: ChoiceEnd | None = None

    def add(self, step: Step) -> None:
        for event in step.events:
            if type(event) is BlockDelta:
                self._blocks[event.block].text.append(event.text)
            elif type(event) is BlockStart:
                self._blocks[event.block] = _FoldedBlock(event)
        if step.end is not None:
            self._end = step.end

    def _content(self, block: _FoldedBlock) -> dict[str, Any]:
        text = "".join(block.text)
        call = block.start.call
        if block.start.kind is BlockKind.REASONING:
            signer = Signer()
            for piece in block.text:
                signer.add(piece)
            shown = "" if self._omit_thinking else text
            return {"type": "thinking", "thinking": shown, "signature": signer.signature()}
        if call is None:
            return {"type": "text", "text": text}
        try:
            arguments = orjson.loads(text or "{}")
        except orjson.JSONDecodeError:
            arguments = {}  # arguments cut short by max_tokens: stop_reason says so
        return {"type": "tool_use", "id": call.call_id, "name": call.name, "input": arguments}

    def response(self, usage: Usage) -> dict[str, Any]:
        return {
            "id": message_id(self._answer),
            "type": "message",
            "role": "assistant",
            "model": self._answer.model_id,
            "content": [self._content(block) for block in self._blocks.values()],
            "stop_reason": stop_reason(self._end),
            "stop_sequence": self._end.stop_sequence if self._end else None,
            "usage": usage_body(usage),
        }
