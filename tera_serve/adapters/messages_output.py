"""Events → Anthropic Messages: the SSE event sequence, or one folded `message` body.

Blocks open and close as the kind of output changes: reasoning is a `thinking` block
(closed with a `signature_delta`), content a `text` block, each tool call a `tool_use`
block whose arguments stream as `input_json_delta`. The fold builds the same blocks from
the same events, so a stream and its non-stream twin cannot disagree. With
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

from tera_serve.errors import TeraError, anthropic_error_body
from tera_serve.parsing.base import ParsedDelta, ToolCallDelta
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.usage import UsageCounter

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


_DELTA_HEAD = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
_TEXT_HEAD = _DELTA_HEAD + b'"delta":{"type":"text_delta","text":'
_THINKING_HEAD = _DELTA_HEAD + b'"delta":{"type":"thinking_delta","thinking":'


def message_id(prepared: PreparedGeneration) -> str:
    return "msg_" + prepared.request_id


def event_frame(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def stop_reason(finish_reason: str | None, stop_sequence: str | None, called: bool) -> str:
    if stop_sequence is not None:
        return "stop_sequence"
    if called and finish_reason in ("stop", "tool_calls"):
        return "tool_use"  # a forced tool ends with `stop` on OpenAI, `tool_use` here
    return _STOP_REASONS.get(finish_reason or "stop", "end_turn")


def usage_body(usage: UsageCounter) -> dict[str, Any]:
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


@dataclass
class _Block:
    kind: str  # thinking | text | tool_use
    call_index: int = -1


class MessagesStreamEncoder:
    """One streamed message (Messages has one choice)."""

    def __init__(self, prepared: PreparedGeneration, *, omit_thinking: bool = False) -> None:
        self._prepared = prepared
        self._omit_thinking = omit_thinking
        self._block: _Block | None = None
        self._index = -1
        self._signer = Signer()
        self._called = False
        self._finish = "end_turn"
        self._stop_sequence: str | None = None

    def start_frames(self) -> list[bytes]:
        message: dict[str, Any] = {
            "id": message_id(self._prepared),
            "type": "message",
            "role": "assistant",
            "model": self._prepared.model_id,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_body(UsageCounter(prompt_tokens=self._prepared.prompt_tokens)),
        }
        return [
            event_frame("message_start", {"type": "message_start", "message": message}),
            event_frame("ping", {"type": "ping"}),
        ]

    def _close(self, frames: list[bytes]) -> None:
        block = self._block
        if block is None:
            return
        if block.kind == "thinking":
            delta = {"type": "signature_delta", "signature": self._signer.signature()}
            self._signer = Signer()
            frames.append(self._delta_frame(delta))
        frames.append(
            event_frame("content_block_stop", {"type": "content_block_stop", "index": self._index})
        )
        self._block = None

    def _open(self, frames: list[bytes], block: _Block, content_block: dict[str, Any]) -> None:
        self._close(frames)
        self._index += 1
        self._block = block
        frames.append(
            event_frame(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": self._index,
                    "content_block": content_block,
                },
            )
        )

    def _delta_frame(self, delta: dict[str, Any]) -> bytes:
        return event_frame(
            "content_block_delta",
            {"type": "content_block_delta", "index": self._index, "delta": delta},
        )

    def _text_delta(self, kind: str, text: str) -> bytes:
        """The hot path: the bytes `_delta_frame` would give, from a pre-serialized head."""
        head = _THINKING_HEAD if kind == "thinking" else _TEXT_HEAD
        return head % self._index + orjson.dumps(text) + b"}}\n\n"

    def _text(self, frames: list[bytes], kind: str, text: str) -> None:
        if self._block is None or self._block.kind != kind:
            start = {"type": "thinking", "thinking": "", "signature": ""}
            self._open(
                frames, _Block(kind), start if kind == "thinking" else {"type": "text", "text": ""}
            )
        if kind == "thinking":
            self._signer.add(text)
            if self._omit_thinking:
                return
        frames.append(self._text_delta(kind, text))

    def _tool(self, frames: list[bytes], call: ToolCallDelta) -> None:
        if call.id is not None:
            self._called = True
            start = {"type": "tool_use", "id": call.id, "name": call.name or "", "input": {}}
            self._open(frames, _Block("tool_use", call.index), start)
        if call.arguments and self._block is not None and self._block.call_index == call.index:
            frames.append(
                self._delta_frame({"type": "input_json_delta", "partial_json": call.arguments})
            )

    def frames(self, event: ChoiceEvent) -> list[bytes]:
        frames: list[bytes] = []
        parsed: ParsedDelta = event.delta
        if parsed.reasoning:
            self._text(frames, "thinking", parsed.reasoning)
        if parsed.content:
            self._text(frames, "text", parsed.content)
        for call in parsed.tool_calls:
            self._tool(frames, call)
        if event.finish_reason is not None:
            self._close(frames)
            self._finish = stop_reason(event.finish_reason, event.stop_sequence, self._called)
            self._stop_sequence = event.stop_sequence
        return frames

    def end_frames(self, usage: UsageCounter) -> list[bytes]:
        delta = {
            "type": "message_delta",
            "delta": {
                "stop_reason": self._finish,
                "stop_sequence": self._stop_sequence,
            },
            "usage": usage_body(usage),
        }
        return [
            event_frame("message_delta", delta),
            event_frame("message_stop", {"type": "message_stop"}),
        ]

    def error_frames(self, error: TeraError) -> list[bytes]:
        return [event_frame("error", anthropic_error_body(error))]


@dataclass
class _FoldedBlock:
    kind: str
    text: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    call_index: int = -1


class MessagesFolder:
    def __init__(self, prepared: PreparedGeneration, *, omit_thinking: bool = False) -> None:
        self._prepared = prepared
        self._omit_thinking = omit_thinking
        self._blocks: list[_FoldedBlock] = []
        self._calls: dict[int, _FoldedBlock] = {}
        self._finish: str | None = None
        self._stop_sequence: str | None = None
        self.usage = UsageCounter.of(prepared)

    def _text(self, kind: str, text: str) -> None:
        if not self._blocks or self._blocks[-1].kind != kind:
            self._blocks.append(_FoldedBlock(kind))
        self._blocks[-1].text.append(text)

    def add(self, event: ChoiceEvent) -> None:
        self.usage.add(event)
        if event.delta.reasoning:
            self._text("thinking", event.delta.reasoning)
        if event.delta.content:
            self._text("text", event.delta.content)
        for call in event.delta.tool_calls:
            if call.id is not None:
                block = _FoldedBlock("tool_use", call_id=call.id, name=call.name or "")
                self._blocks.append(block)
                self._calls[call.index] = block
            self._calls[call.index].text.append(call.arguments)
        if event.finish_reason is not None:
            self._finish = event.finish_reason
            self._stop_sequence = event.stop_sequence

    def _content(self, block: _FoldedBlock) -> dict[str, Any]:
        text = "".join(block.text)
        if block.kind == "thinking":
            signer = Signer()
            for piece in block.text:
                signer.add(piece)
            shown = "" if self._omit_thinking else text
            return {"type": "thinking", "thinking": shown, "signature": signer.signature()}
        if block.kind == "text":
            return {"type": "text", "text": text}
        try:
            arguments = orjson.loads(text or "{}")
        except orjson.JSONDecodeError:
            arguments = {}  # arguments cut short by max_tokens: stop_reason says so
        return {"type": "tool_use", "id": block.call_id, "name": block.name, "input": arguments}

    def response(self) -> dict[str, Any]:
        return {
            "id": message_id(self._prepared),
            "type": "message",
            "role": "assistant",
            "model": self._prepared.model_id,
            "content": [self._content(block) for block in self._blocks],
            "stop_reason": stop_reason(self._finish, self._stop_sequence, bool(self._calls)),
            "stop_sequence": self._stop_sequence,
            "usage": usage_body(self.usage),
        }
