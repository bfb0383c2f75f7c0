"""Steps → chat.completion.chunk SSE frames, or folded into one chat.completion.

Both paths read the same steps, so a stream and its non-stream twin cannot disagree.
Chunks are plain dicts encoded with orjson: no pydantic model is built per token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tera_serve.adapters.openai_stream import (
    OpenAIStreamEnding,
    StreamOptions,
    logprobs_content,
    openai_usage,
    sse_frame,
)
from tera_serve.core.encoding import NothingToComplete
from tera_serve.core.events import BlockDelta, BlockKind, BlockStart, ChoiceEnd, Step, Usage
from tera_serve.core.logprobs import PositionLogprobs
from tera_serve.core.prepared import PreparedAnswer

_FINISH = b',"logprobs":null,"finish_reason":'
_OPEN_TAIL = _FINISH + b"null}]}\n\n"
_TEXT_TAIL = b"}" + _OPEN_TAIL


@dataclass(frozen=True)
class ChatOptions:
    """What Chat Completions adds to an answer: its reasoning field names and stream options."""

    reasoning_fields: tuple[str, ...] = ()
    """Message fields that carry reasoning text (empty for non-reasoning models)."""
    stream: StreamOptions = field(default_factory=StreamOptions)


def response_id(answer: PreparedAnswer) -> str:
    return "chatcmpl-" + answer.request_id


def chat_finish_reason(end: ChoiceEnd, forced_tool: bool) -> str:
    """A choice that called tools ends with `tool_calls`, but a call the request forced by
    naming its function ends with `stop`, as OpenAI does."""
    if end.called_tools and not forced_tool and end.reason == "stop":
        return "tool_calls"
    return end.reason


class _DeltaBuilder:
    """One step's events → the chat `delta` object (tool calls keep their ordinals)."""

    def __init__(self, reasoning_fields: tuple[str, ...]) -> None:
        self._reasoning_fields = reasoning_fields
        self._ordinals: dict[int, int] = {}  # block → tool-call ordinal

    def delta(self, step: Step) -> dict[str, Any]:
        reasoning: list[str] = []
        content: list[str] = []
        calls: list[dict[str, Any]] = []
        for event in step.events:
            if isinstance(event, BlockDelta):
                if event.kind is BlockKind.TEXT:
                    content.append(event.text)
                elif event.kind is BlockKind.REASONING:
                    reasoning.append(event.text)
                else:
                    self._arguments(calls, event)
            elif isinstance(event, BlockStart) and event.call is not None:
                self._ordinals[event.block] = event.call.ordinal
                calls.append(
                    {
                        "index": event.call.ordinal,
                        "id": event.call.call_id,
                        "type": "function",
                        "function": {"name": event.call.name, "arguments": ""},
                        "_block": event.block,
                    }
                )
        delta: dict[str, Any] = {}
        if reasoning:
            text = "".join(reasoning)
            for name in self._reasoning_fields:
                delta[name] = text
        if content:
            delta["content"] = "".join(content)
        if calls:
            for call in calls:
                del call["_block"]
            delta["tool_calls"] = calls
        return delta

    def ordinal(self, block: int) -> int:
        """The tool-call ordinal of a call block that has started."""
        return self._ordinals.get(block, 0)

    def _arguments(self, calls: list[dict[str, Any]], event: BlockDelta) -> None:
        last = calls[-1] if calls else None
        if last is not None and last["_block"] == event.block:
            last["function"]["arguments"] += event.text  # the call's first piece
            return
        ordinal = self.ordinal(event.block)
        calls.append({"index": ordinal, "function": {"arguments": event.text}, "_block": -1})


class ChatChunkEncoder(OpenAIStreamEnding, NothingToComplete):
    """Encodes one streamed response. `role` rides on each choice's first delta.

    The chunk's fixed part (id, object, created, model) is serialized once per response;
    each frame only serializes its delta. The bytes are exactly what orjson gives for the
    whole chunk dict (`sse_frame`), which frames with logprobs still use.
    """

    def __init__(self, answer: PreparedAnswer, options: ChatOptions) -> None:
        self._answer = answer
        self._stream_options = options.stream
        self._reasoning_fields = options.reasoning_fields
        self._builder = _DeltaBuilder(options.reasoning_fields)
        self._started: set[int] = set()
        self._base = {
            "id": response_id(answer),
            "object": "chat.completion.chunk",
            "created": answer.created,
            "model": answer.model_id,
        }
        # b'data: {"id":...,"model":"..."' + b',"choices":[{"index":'
        self._head = b"data: " + orjson.dumps(self._base)[:-1] + b',"choices":[{"index":'
        self._choice_heads: dict[int, bytes] = {}

    def _role(self, choice: int, delta: dict[str, Any], final: bool) -> dict[str, Any]:
        if choice not in self._started and (delta or final):
            self._started.add(choice)
            return {"role": "assistant", **delta}
        return delta

    def _choice_head(self, index: int) -> bytes:
        head = self._head + b"%d" % index + b',"delta":'
        self._choice_heads[index] = head
        return head

    def _frame(self, index: int, delta: dict[str, Any], finish_reason: str | None) -> bytes:
        """One choice without logprobs, from the pre-serialized head."""
        head = self._choice_heads.get(index) or self._choice_head(index)
        if finish_reason is None:
            return head + orjson.dumps(delta) + _OPEN_TAIL
        return head + orjson.dumps(delta) + _FINISH + orjson.dumps(finish_reason) + b"}]}\n\n"

    def frames(self, step: Step) -> list[bytes]:
        """One step → zero, one or two frames (text, then the `delta: {}` final frame)."""
        events = step.events
        if len(events) == 1 and step.end is None and step.choice in self._started:
            event = events[0]
            if type(event) is BlockDelta and not step.logprobs:  # the per-token cases
                if event.kind is BlockKind.TEXT:
                    # The bytes of {"content": text}, without the dict.
                    head = self._choice_heads.get(step.choice) or self._choice_head(step.choice)
                    return [head + b'{"content":' + orjson.dumps(event.text) + _TEXT_TAIL]
                if event.kind is BlockKind.REASONING:
                    delta = dict.fromkeys(self._reasoning_fields, event.text)
                    return [self._frame(step.choice, delta, None)]
                ordinal = self._builder.ordinal(event.block)
                call = {"index": ordinal, "function": {"arguments": event.text}}
                return [self._frame(step.choice, {"tool_calls": [call]}, None)]
        frames: list[bytes] = []
        delta = self._builder.delta(step)
        if delta or step.logprobs:
            delta = self._role(step.choice, delta, final=False)
            if self._answer.logprobs and step.logprobs:
                choice: dict[str, Any] = {
                    "index": step.choice,
                    "delta": delta,
                    "logprobs": {"content": logprobs_content(step.logprobs)},
                    "finish_reason": None,
                }
                frames.append(sse_frame({**self._base, "choices": [choice]}))
            else:
                frames.append(self._frame(step.choice, delta, None))
        if step.end is not None:
            final = self._role(step.choice, {}, final=True)
            reason = chat_finish_reason(step.end, self._answer.forced_tool)
            frames.append(self._frame(step.choice, final, reason))
        return frames


@dataclass
class _ChoiceState:
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, tuple[str, str, list[str]]] = field(default_factory=dict)
    """block → the call's id, name and argument pieces (joined once, at the end)."""
    logprobs: list[PositionLogprobs] = field(default_factory=list)
    finish_reason: str | None = None


class ChatFolder(NothingToComplete):
    """Folds the steps into one chat.completion body."""

    def __init__(self, answer: PreparedAnswer, options: ChatOptions) -> None:
        self._answer = answer
        self._reasoning_fields = options.reasoning_fields
        self._choices = [_ChoiceState() for _ in range(answer.choices)]

    def add(self, step: Step) -> None:
        state = self._choices[step.choice]
        for event in step.events:
            if isinstance(event, BlockDelta):
                if event.kind is BlockKind.TEXT:
                    state.content.append(event.text)
                elif event.kind is BlockKind.REASONING:
                    state.reasoning.append(event.text)
                else:
                    state.tool_calls[event.block][2].append(event.text)
            elif isinstance(event, BlockStart) and event.call is not None:
                state.tool_calls[event.block] = (event.call.call_id, event.call.name, [])
        if step.logprobs:
            state.logprobs.extend(step.logprobs)
        if step.end is not None:
            state.finish_reason = chat_finish_reason(step.end, self._answer.forced_tool)

    def _message(self, state: _ChoiceState) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant"}
        calls = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": "".join(pieces)},
            }
            for call_id, name, pieces in state.tool_calls.values()
        ]
        content = "".join(state.content)
        message["content"] = content if (content or not calls) else None
        reasoning = "".join(state.reasoning)
        for name in self._reasoning_fields:
            message[name] = reasoning or None
        if calls:
            message["tool_calls"] = calls
        return message

    def response(self, usage: Usage) -> dict[str, Any]:
        return {
            "id": response_id(self._answer),
            "object": "chat.completion",
            "created": self._answer.created,
            "model": self._answer.model_id,
            "choices": [
                {
                    "index": index,
                    "message": self._message(state),
                    "logprobs": (
                        {"content": logprobs_content(state.logprobs)}
                        if self._answer.logprobs
                        else None
                    ),
                    "finish_reason": state.finish_reason,
                }
                for index, state in enumerate(self._choices)
            ],
            "usage": openai_usage(usage),
        }
