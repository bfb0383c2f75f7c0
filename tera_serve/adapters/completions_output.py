"""Legacy completions: events → text_completion SSE chunks, or one folded body."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tera_serve.adapters.chat_output import OpenAIStreamEnding, openai_usage
from tera_serve.engine.base import PositionLogprobs
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.usage import UsageCounter


def legacy_logprobs(positions: list[PositionLogprobs], offset: int) -> dict[str, Any]:
    tokens, token_logprobs, top, offsets = [], [], [], []
    for p in positions:
        offsets.append(offset)
        offset += len(p.chosen.token)
        tokens.append(p.chosen.token)
        token_logprobs.append(p.chosen.logprob)
        top.append({t.token: t.logprob for t in p.top})
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top,
        "text_offset": offsets,
    }


class CompletionChunkEncoder(OpenAIStreamEnding):
    """text_completion chunks; the fixed part of each is serialized once per response."""

    def __init__(self, prepared: PreparedGeneration) -> None:
        self._prepared = prepared
        self._offsets = [0] * len(prepared.engine_requests)
        self._base = {
            "id": prepared.response_id,
            "object": "text_completion",
            "created": prepared.created,
            "model": prepared.model_id,
        }
        self._head = b"data: " + orjson.dumps(self._base)[:-1] + b',"choices":[{"index":'

    def frames(self, event: ChoiceEvent) -> list[bytes]:
        if not event.delta.content and event.finish_reason is None and not event.logprobs:
            return []
        logprobs = None
        if self._prepared.logprobs and event.logprobs:
            logprobs = legacy_logprobs(event.logprobs, self._offsets[event.index])
        self._offsets[event.index] += len(event.delta.content)
        # The bytes orjson gives for {**base, "choices": [{index, text, logprobs,
        # finish_reason}]}, without building that dict per token.
        return [
            b"".join(
                (
                    self._head,
                    b"%d" % event.index,
                    b',"text":',
                    orjson.dumps(event.delta.content),
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
    logprobs: list[PositionLogprobs] = field(default_factory=list)
    finish_reason: str | None = None


class CompletionFolder:
    def __init__(self, prepared: PreparedGeneration) -> None:
        self._prepared = prepared
        self._choices = [_TextState() for _ in prepared.engine_requests]
        self.usage = UsageCounter(prompt_tokens=prepared.prompt_tokens)

    def add(self, event: ChoiceEvent) -> None:
        self.usage.add(event)
        state = self._choices[event.index]
        state.text += event.delta.content
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
                    "logprobs": legacy_logprobs(s.logprobs, 0) if self._prepared.logprobs else None,
                    "finish_reason": s.finish_reason,
                }
                for i, s in enumerate(self._choices)
            ],
            "usage": usage,
        }
