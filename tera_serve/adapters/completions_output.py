"""Legacy completions: events → text_completion SSE chunks, or one folded body."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tera_serve.adapters.chat_output import OpenAIStreamEnding, openai_usage
from tera_serve.engine.base import PositionLogprobs
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.prompt_scoring import EchoTracker, end_offset, legacy_logprobs
from tera_serve.service.usage import UsageCounter


class CompletionChunkEncoder(OpenAIStreamEnding):
    """text_completion chunks; the fixed part of each is serialized once per response."""

    def __init__(self, prepared: PreparedGeneration) -> None:
        self._prepared = prepared
        self._offsets = [0] * len(prepared.engine_requests)
        self._echo = EchoTracker(prepared.echo, prepared.choices_per_prompt)
        self._base = {
            "id": prepared.response_id,
            "object": "text_completion",
            "created": prepared.created,
            "model": prepared.model_id,
        }
        self._head = b"data: " + orjson.dumps(self._base)[:-1] + b',"choices":[{"index":'

    def frames(self, event: ChoiceEvent) -> list[bytes]:
        echoed, prompt_positions = self._echo.take(event.index, event.prompt_logprobs)
        text = echoed + event.delta.content
        positions: Sequence[PositionLogprobs | None] = (
            [*prompt_positions, *(event.logprobs or [])]
            if prompt_positions
            else event.logprobs or ()
        )
        if not text and event.finish_reason is None and not positions:
            return []
        logprobs = None
        if self._prepared.logprobs and positions:
            first = self._echo.prompt_of(event.index)
            logprobs = legacy_logprobs(
                positions, self._offsets[event.index], first.first_token if first else ""
            )
        # Token offsets advance by the tokens reported (text held back for a stop string
        # lags them), so a stream's offsets are the folded response's.
        after = end_offset(logprobs) if logprobs else None
        self._offsets[event.index] = (
            after if after is not None else self._offsets[event.index] + len(text)
        )
        # The bytes orjson gives for {**base, "choices": [{index, text, logprobs,
        # finish_reason}]}, without building that dict per token.
        return [
            b"".join(
                (
                    self._head,
                    b"%d" % event.index,
                    b',"text":',
                    orjson.dumps(text),
                    b',"logprobs":',
                    orjson.dumps(logprobs),
                    b',"finish_reason":',
                    orjson.dumps(event.finish_reason),
                    b"}]}\n\n",
                )
            )
        ]


@dataclass
class _TextState:
    text: str = ""
    logprobs: list[PositionLogprobs | None] = field(default_factory=list)
    finish_reason: str | None = None


class CompletionFolder:
    def __init__(self, prepared: PreparedGeneration) -> None:
        self._prepared = prepared
        self._choices = [_TextState() for _ in prepared.engine_requests]
        self.usage = UsageCounter.of(prepared)
        self._echo = EchoTracker(prepared.echo, prepared.choices_per_prompt)

    def add(self, event: ChoiceEvent) -> None:
        self.usage.add(event)
        state = self._choices[event.index]
        echoed, prompt_positions = self._echo.take(event.index, event.prompt_logprobs)
        state.text += echoed + event.delta.content
        state.logprobs.extend(prompt_positions)
        if event.logprobs:
            state.logprobs.extend(event.logprobs)
        if event.finish_reason is not None:
            state.finish_reason = event.finish_reason

    def response(self) -> dict[str, Any]:
        usage = openai_usage(self.usage)
        usage.pop("completion_tokens_details", None)
        return {
            "id": self._prepared.response_id,
            "object": "text_completion",
            "created": self._prepared.created,
            "model": self._prepared.model_id,
            "choices": [
                {
                    "index": i,
                    "text": s.text,
                    "logprobs": self._logprobs(i, s) if self._prepared.logprobs else None,
                    "finish_reason": s.finish_reason,
                }
                for i, s in enumerate(self._choices)
            ],
            "usage": usage,
        }

    def _logprobs(self, index: int, state: _TextState) -> dict[str, Any]:
        first = self._echo.prompt_of(index)
        return legacy_logprobs(state.logprobs, 0, first.first_token if first else "")
