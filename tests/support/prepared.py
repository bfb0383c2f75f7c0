"""Answers and steps without an engine, for encoder and fold tests.

`Steps` runs parser-shaped deltas through the core's segmenter, as the generation runner
does, so a test states what a parser read and the encoders see the real events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tera_serve.core.events import ChoiceEnd, FinishReason, Step
from tera_serve.core.logprobs import PositionLogprobs
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.core.segmenter import Segmenter
from tera_serve.parsing.base import ParsedDelta


def scripted_answer(**fields: Any) -> PreparedAnswer:
    values: dict[str, Any] = {
        "request_id": "r1",
        "model_id": "m",
        "created": 1_700_000_000,
        "prompt_tokens": 3,
        "choice_prompt_tokens": (3,),
        "stream": True,
        "logprobs": False,
    }
    return PreparedAnswer(**{**values, **fields})


class Steps:
    """Per choice, a segmenter; each call makes the step one engine delta would."""

    def __init__(self) -> None:
        self._segmenters: dict[int, Segmenter] = {}

    def __call__(
        self,
        choice: int,
        parsed: ParsedDelta | None = None,
        *,
        new_tokens: int = 1,
        logprobs: list[PositionLogprobs] | None = None,
        finish: FinishReason | None = None,
        stop_sequence: str | None = None,
        reasoning_tokens: int = 0,
        prompt_logprobs: list[PositionLogprobs | None] | None = None,
        cached_tokens: int | None = None,
    ) -> Step:
        segmenter = self._segmenters.setdefault(choice, Segmenter())
        events = segmenter.feed(parsed or ParsedDelta())
        end = None
        if finish is not None:
            events += segmenter.close()
            end = ChoiceEnd(finish, segmenter.called_tools, stop_sequence, reasoning_tokens)
        return Step(choice, events, new_tokens, logprobs, end, prompt_logprobs, cached_tokens)


@dataclass(frozen=True)
class Raw:
    """What a parser read from one engine delta, and how the delta ended the choice (the
    fields of an engine delta after parsing); `as_steps` makes the steps of a sequence."""

    index: int
    delta: ParsedDelta
    logprobs: list[PositionLogprobs] | None
    new_tokens: int
    finish_reason: str | None = None
    """`stop` or `length`; `tool_calls` reads as `stop` (the segmenter knows calls)."""
    reasoning_tokens: int = 0
    stop_sequence: str | None = None
    prompt_logprobs: list[PositionLogprobs | None] | None = None
    cached_tokens: int | None = None


def as_steps(raws: Sequence[Raw]) -> list[Step]:
    step = Steps()
    return [
        step(
            raw.index,
            raw.delta,
            new_tokens=raw.new_tokens,
            logprobs=raw.logprobs,
            finish=None
            if raw.finish_reason is None
            else ("length" if raw.finish_reason == "length" else "stop"),
            stop_sequence=raw.stop_sequence,
            reasoning_tokens=raw.reasoning_tokens,
            prompt_logprobs=raw.prompt_logprobs,
            cached_tokens=raw.cached_tokens,
        )
        for raw in raws
    ]
