"""Legacy completions: events → text_completion SSE chunks, or one folded body."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tera_serve.adapters.openai_stream import OpenAIStreamEnding, StreamOptions, openai_usage
from tera_serve.core.encoding import NothingToComplete
from tera_serve.core.events import BlockDelta, BlockKind, Step, Usage
from tera_serve.core.logprobs import PositionLogprobs
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.service.prompt_scoring import EchoPrompt, EchoTracker, end_offset, legacy_logprobs


@dataclass(frozen=True)
class CompletionOptions:
    stream: StreamOptions = field(default_factory=StreamOptions)
    echo: tuple[EchoPrompt, ...] | None = None
    """`echo`: per prompt, what each of its choices starts with."""


def response_id(answer: PreparedAnswer) -> str:
    return "cmpl-" + answer.request_id


def step_text(step: Step) -> str:
    """A completion has no blocks but text (its parser reads every token as text)."""
    return "".join(
        e.text for e in step.events if type(e) is BlockDelta and e.kind is BlockKind.TEXT
    )


class CompletionChunkEncoder(OpenAIStreamEnding, NothingToComplete):
    """text_completion chunks; the fixed part of each is serialized once per response."""

    def __init__(self, answer: PreparedAnswer, options: CompletionOptions) -> None:
        self._answer = answer
        self._stream_options = options.stream
        self._offsets = [0] * answer.choices
        self._echo = EchoTracker(options.echo, answer.choices_per_prompt)
        self._base = {
            "id": response_id(answer),
            "object": "text_completion",
            "created": answer.created,
            "model": answer.model_id,
        }
        self._head = b"data: " + orjson.dumps(self._base)[:-1] + b',"choices":[{"index":'

    def frames(self, step: Step) -> list[bytes]:
        index = step.choice
        echoed, prompt_positions = self._echo.take(index, step.prompt_logprobs)
        text = echoed + step_text(step)
        positions: Sequence[PositionLogprobs | None] = (
            [*prompt_positions, *(step.logprobs or [])] if prompt_positions else step.logprobs or ()
        )
        finish_reason = step.end.reason if step.end is not None else None
        if not text and finish_reason is None and not positions:
            return []
        logprobs = None
        if self._answer.logprobs and positions:
            first = self._echo.prompt_of(index)
            logprobs = legacy_logprobs(
                positions, self._offsets[index], first.first_token if first else ""
            )
        # Token offsets advance by the tokens reported (text held back for a stop string
        # lags them), so a stream's offsets are the folded response's.
        after = end_offset(logprobs) if logprobs else None
        self._offsets[index] = after if after is not None else self._offsets[index] + len(text)
        # The bytes orjson gives for {**base, "choices": [{index, text, logprobs,
        # finish_reason}]}, without building that dict per token.
        return [
            b"".join(
                (
                    self._head,
                    b"%d" % index,
                    b',"text":',
                    orjson.dumps(text),
                    b',"logprobs":',
                    orjson.dumps(logprobs),
                    b',"finish_reason":',
                    orjson.dumps(finish_reason),
                    b"}]}\n\n",
                )
            )
        ]


@dataclass
class _TextState:
    text: str = ""
    logprobs: list[PositionLogprobs | None] = field(default_factory=list)
    finish_reason: str | None = None


class CompletionFolder(NothingToComplete):
    def __init__(self, answer: PreparedAnswer, options: CompletionOptions) -> None:
        self._answer = answer
        self._choices = [_TextState() for _ in range(answer.choices)]
        self._echo = EchoTracker(options.echo, answer.choices_per_prompt)

    def add(self, step: Step) -> None:
        state = self._choices[step.choice]
        echoed, prompt_positions = self._echo.take(step.choice, step.prompt_logprobs)
        state.text += echoed + step_text(step)
        state.logprobs.extend(prompt_positions)
        if step.logprobs:
            state.logprobs.extend(step.logprobs)
        if step.end is not None:
            state.finish_reason = step.end.reason

    def response(self, usage: Usage) -> dict[str, Any]:
        body = openai_usage(usage)
        body.pop("completion_tokens_details", None)
        return {
            "id": response_id(self._answer),
            "object": "text_completion",
            "created": self._answer.created,
            "model": self._answer.model_id,
            "choices": [
                {
                    "index": i,
                    "text": s.text,
                    "logprobs": self._logprobs(i, s) if self._answer.logprobs else None,
                    "finish_reason": s.finish_reason,
                }
                for i, s in enumerate(self._choices)
            ],
            "usage": body,
        }

    def _logprobs(self, index: int, state: _TextState) -> dict[str, Any]:
        first = self._echo.prompt_of(index)
        return legacy_logprobs(state.logprobs, 0, first.first_token if first else "")
