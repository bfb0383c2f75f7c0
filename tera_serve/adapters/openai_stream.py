"""What OpenAI's Chat Completions and Completions streams share: SSE frames, usage, logprobs,
the stream options, and how a stream ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tera_serve.core.events import Usage
from tera_serve.core.logprobs import PositionLogprobs
from tera_serve.errors import TeraError

DONE_FRAME = b"data: [DONE]\n\n"


@dataclass(frozen=True)
class StreamOptions:
    """`stream_options`: a usage chunk at the end, or usage on every chunk (vLLM's
    `continuous_usage_stats`)."""

    include_usage: bool = False
    continuous_usage: bool = False


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


def openai_usage(usage: Usage) -> dict[str, Any]:
    body = usage_dict(usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens)
    body["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return body


def sse_error_frame(error: TeraError) -> bytes:
    return sse_frame(error.to_body())


class OpenAIStreamEnding:
    """How OpenAI's streams end: an optional usage chunk, then `data: [DONE]`; a failure
    after the 200 is an error frame, then `data: [DONE]`."""

    _stream_options: StreamOptions
    _base: dict[str, Any]

    def start_frames(self) -> list[bytes]:
        return []

    def usage_frame(self, usage: Usage) -> bytes:
        return sse_frame({**self._base, "choices": [], "usage": self._usage(usage)})

    def _usage(self, usage: Usage) -> dict[str, Any]:
        return openai_usage(usage)

    def end_frames(self, usage: Usage) -> list[bytes]:
        if self._stream_options.include_usage:
            return [self.usage_frame(usage), DONE_FRAME]
        return [DONE_FRAME]

    def error_frames(self, error: TeraError) -> list[bytes]:
        return [sse_error_frame(error), DONE_FRAME]
