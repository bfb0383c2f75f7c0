"""Optional additions to a Chat Completions or Completions answer, layered over its encoder
or folder: usage on every chunk (`stream_options.continuous_usage_stats`) and vLLM's
`prompt_logprobs`.

They wrap rather than change the encoders, so a request that asks for neither pays nothing.
"""

from __future__ import annotations

from typing import Any

import orjson

from tera_serve.adapters.openai_stream import StreamOptions
from tera_serve.core.encoding import Folder, StreamEncoder
from tera_serve.core.events import Step, Usage
from tera_serve.core.logprobs import PositionLogprobs
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.errors import TeraError
from tera_serve.service.prompt_scoring import vllm_prompt_logprobs


class ContinuousUsageEncoder:
    """Adds the choice's usage so far to each of its chunks, as vllm serve does: the
    choice's prompt tokens and the tokens it has generated up to and including the chunk."""

    def __init__(self, inner: StreamEncoder, answer: PreparedAnswer) -> None:
        self._inner = inner
        self._prompt = answer.choice_prompt_tokens
        self._generated = [0] * answer.choices

    def frames(self, step: Step) -> list[bytes]:
        self._generated[step.choice] += step.new_tokens
        prompt, generated = self._prompt[step.choice], self._generated[step.choice]
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": generated,
            "total_tokens": prompt + generated,
        }
        tail = b',"usage":' + orjson.dumps(usage) + b"}\n\n"
        # Every frame is b"data: {...}\n\n": the usage goes in before the closing brace.
        return [frame[:-3] + tail for frame in self._inner.frames(step)]

    def start_frames(self) -> list[bytes]:
        return self._inner.start_frames()

    def end_frames(self, usage: Usage) -> list[bytes]:
        return self._inner.end_frames(usage)

    def error_frames(self, error: TeraError) -> list[bytes]:
        return self._inner.error_frames(error)

    async def complete(self) -> None:
        await self._inner.complete()


class PromptLogprobsFolder:
    """Adds `prompt_logprobs`: on each choice for completions, once on the body for chat
    (where all choices share one prompt), where vllm serve puts them."""

    def __init__(self, inner: Folder, per_choice: bool) -> None:
        self._inner = inner
        self._per_choice = per_choice
        self._by_choice: dict[int, list[PositionLogprobs | None]] = {}

    def add(self, step: Step) -> None:
        self._inner.add(step)
        if step.prompt_logprobs is not None:
            self._by_choice.setdefault(step.choice, step.prompt_logprobs)

    def response(self, usage: Usage) -> dict[str, Any]:
        body = self._inner.response(usage)
        if self._per_choice:
            for choice in body["choices"]:
                positions = self._by_choice.get(choice["index"], [])
                choice["prompt_logprobs"] = vllm_prompt_logprobs(positions)
        else:
            body["prompt_logprobs"] = vllm_prompt_logprobs(self._by_choice.get(0, []))
        return body

    async def complete(self) -> None:
        await self._inner.complete()


def with_stream_extras(
    encoder: StreamEncoder, answer: PreparedAnswer, options: StreamOptions
) -> StreamEncoder:
    return ContinuousUsageEncoder(encoder, answer) if options.continuous_usage else encoder


def with_fold_extras(folder: Folder, answer: PreparedAnswer, chat: bool) -> Folder:
    if answer.prompt_logprobs is None:
        return folder
    return PromptLogprobsFolder(folder, per_choice=not chat)
