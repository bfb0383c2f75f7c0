"""Choice events → chat.completion.chunk SSE frames, or folded into one chat.completion.

Both paths consume the same events, so a stream and its non-stream twin cannot disagree.
Chunks are plain dicts encoded with orjson: no pydantic model is built per token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tera_serve.engine.base import PositionLogprobs
from tera_serve.errors import TeraError
from tera_serve.parsing.base import ParsedDelta, ToolCallDelta
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.usage import UsageCounter

DONE_FRAME = b"data: [DONE]\n\n"
_FINISH = b',"logprobs":null,"finish_reason":'
_OPEN_TAIL = _FINISH + b"null}]}\n\n"


def sse_frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def logprobs_content(positions: list[PositionLogprobs]) -> list[dict[str, Any]]:
    return [
        {
            "token": p.chosen.token,
            "logprob": p.chosen.logprob,
            "bytes": list(p.chosen.token_bytes),
            "top_logprobs": [
                {"token": t.token, "logprob": t.logprob, "bytes": list(t.token_bytes)}
                for t in p.top
            ],
        }
        for p in positions
    ]


def usage_dict(prompt_tokens: int, completion_tokens: int, reasoning_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
    }


def _tool_call_delta_dict(call: ToolCallDelta) -> dict[str, Any]:
    out: dict[str, Any] = {"index": call.index}
    function: dict[str, Any] = {}
    if call.id is not None:
        out["id"] = call.id
        out["type"] = "function"
    if call.name is not None:
        function["name"] = call.name
    function["arguments"] = call.arguments
    out["function"] = function
    return out


def openai_usage(usage: UsageCounter) -> dict[str, Any]:
    body = usage_dict(usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens)
    body["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return body


class OpenAIStreamEnding:
    """How OpenAI's streams end: an optional usage chunk, then `data: [DONE]`; a failure
    after the 200 is an error frame, then `data: [DONE]`."""

    _prepared: PreparedGeneration
    _base: dict[str, Any]

    def start_frames(self) -> list[bytes]:
        return []

    def usage_frame(self, usage: UsageCounter) -> bytes:
        return sse_frame({**self._base, "choices": [], "usage": self._usage(usage)})

    def _usage(self, usage: UsageCounter) -> dict[str, Any]:
        return openai_usage(usage)

    def end_frames(self, usage: UsageCounter) -> list[bytes]:
        if self._prepared.include_usage:
            return [self.usage_frame(usage), DONE_FRAME]
        return [DONE_FRAME]

    def error_frames(self, error: TeraError) -> list[bytes]:
        return [sse_error_frame(error), DONE_FRAME]


def sse_error_frame(error: TeraError) -> bytes:
    return sse_frame(error.to_body())


class ChatChunkEncoder(OpenAIStreamEnding):
    """Encodes one streamed response. `role` rides on each choice's first delta.

    The chunk's fixed part (id, object, created, model) is serialized once per response;
    each frame only serializes its delta. The bytes are exactly what orjson gives for the
    whole chunk dict (`sse_frame`), which frames with logprobs still use.
    """

    def __init__(self, prepared: PreparedGeneration) -> None:
        self._prepared = prepared
        self._started: set[int] = set()
        self._base = {
            "id": prepared.response_id,
            "object": "chat.completion.chunk",
            "created": prepared.created,
            "model": prepared.model_id,
        }
        # b'data: {"id":...,"model":"..."' + b',"choices":[{"index":'
        self._head = b"data: " + orjson.dumps(self._base)[:-1] + b',"choices":[{"index":'
        self._choice_heads: dict[int, bytes] = {}

    def _delta_dict(self, index: int, parsed: ParsedDelta, final: bool) -> dict[str, Any]:
        delta: dict[str, Any] = {}
        if index not in self._started and (not parsed.is_empty() or final):
            self._started.add(index)
            delta["role"] = "assistant"
        if parsed.reasoning:
            for name in self._prepared.reasoning_fields:
                delta[name] = parsed.reasoning
        if parsed.content:
            delta["content"] = parsed.content
        if parsed.tool_calls:
            delta["tool_calls"] = [_tool_call_delta_dict(c) for c in parsed.tool_calls]
        return delta

    def _frame(self, index: int, delta: dict[str, Any], finish_reason: str | None) -> bytes:
        """One choice without logprobs, from the pre-serialized head."""
        head = self._choice_heads.get(index)
        if head is None:
            head = self._head + b"%d" % index + b',"delta":'
            self._choice_heads[index] = head
        if finish_reason is None:
            return head + orjson.dumps(delta) + _OPEN_TAIL
        return head + orjson.dumps(delta) + _FINISH + orjson.dumps(finish_reason) + b"}]}\n\n"

    def frames(self, event: ChoiceEvent) -> list[bytes]:
        """One event → zero, one or two frames (text, then the `delta: {}` final frame)."""
        frames: list[bytes] = []
        if not event.delta.is_empty() or event.logprobs:
            delta = self._delta_dict(event.index, event.delta, final=False)
            if self._prepared.logprobs and event.logprobs:
                choice: dict[str, Any] = {
                    "index": event.index,
                    "delta": delta,
                    "logprobs": {"content": logprobs_content(event.logprobs)},
                    "finish_reason": None,
                }
                frames.append(sse_frame({**self._base, "choices": [choice]}))
            else:
                frames.append(self._frame(event.index, delta, None))
        if event.finish_reason is not None:
            final = self._delta_dict(event.index, ParsedDelta(), final=True)
            frames.append(self._frame(event.index, final, event.finish_reason))
        return frames


@dataclass
class _ChoiceState:
    content: str = ""
    reasoning: str = ""
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    logprobs: list[PositionLogprobs] = field(default_factory=list)
    finish_reason: str | None = None


class ChatFolder:
    """Folds the event stream into one chat.completion body."""

    def __init__(self, prepared: PreparedGeneration) -> None:
        self._prepared = prepared
        self._choices = [_ChoiceState() for _ in prepared.engine_requests]
        self.usage = UsageCounter.of(prepared)

    def add(self, event: ChoiceEvent) -> None:
        self.usage.add(event)
        state = self._choices[event.index]
        state.content += event.delta.content
        state.reasoning += event.delta.reasoning
        for call in event.delta.tool_calls:
            entry = state.tool_calls.setdefault(
                call.index,
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
            )
            if call.id is not None:
                entry["id"] = call.id
            if call.name is not None:
                entry["function"]["name"] = call.name
            entry["function"]["arguments"] += call.arguments
        if event.logprobs:
            state.logprobs.extend(event.logprobs)
        if event.finish_reason is not None:
            state.finish_reason = event.finish_reason

    def _message(self, state: _ChoiceState) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant"}
        calls = [state.tool_calls[i] for i in sorted(state.tool_calls)]
        message["content"] = state.content if (state.content or not calls) else None
        for name in self._prepared.reasoning_fields:
            message[name] = state.reasoning or None
        if calls:
            message["tool_calls"] = calls
        return message

    def response(self) -> dict[str, Any]:
        return {
            "id": self._prepared.response_id,
            "object": "chat.completion",
            "created": self._prepared.created,
            "model": self._prepared.model_id,
            "choices": [
                {
                    "index": index,
                    "message": self._message(state),
                    "logprobs": (
                        {"content": logprobs_content(state.logprobs)}
                        if self._prepared.logprobs
                        else None
                    ),
                    "finish_reason": state.finish_reason,
                }
                for index, state in enumerate(self._choices)
            ],
            "usage": openai_usage(self.usage),
        }
