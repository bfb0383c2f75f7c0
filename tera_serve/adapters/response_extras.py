"""Optional additions to any chat or completion response, layered over its encoder or folder:
usage on every chunk (`stream_options.continuous_usage_stats`) and vLLM's `prompt_logprobs`.

They wrap rather than change the encoders, so a request that asks for neither pays nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from tera_serve.engine.base import PositionLogprobs
from tera_serve.errors import TeraError
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.prompt_scoring import vllm_prompt_logprobs
from tera_serve.service.usage import UsageCounter


class _Encoder(Protocol):
    def start_frames(self) -> list[bytes]: ...

    def frames(self, event: ChoiceEvent) -> list[bytes]: ...

    def end_frames(self, usage: UsageCounter) -> list[bytes]: ...

    def error_frames(self, error: TeraError) -> list[bytes]: ...


class _Folder(Protocol):
    usage: UsageCounter

    def add(self, event: ChoiceEvent) -> None: ...

    def response(self) -> dict[str, Any]: ...


class ContinuousUsageEncoder:
    """Adds the choice's usage so far to each of its chunks, as vllm serve does: the
    choice's prompt tokens and the tokens it has generated up to and including the chunk."""

    def __init__(self, inner: _Encoder, prepared: PreparedGeneration) -> None:
        self._inner = inner
        self._prompt = [len(r.prompt_token_ids) for r in prepared.engine_requests]
        self._generated = [0] * len(prepared.engine_requests)

    def frames(self, event: ChoiceEvent) -> list[bytes]:
        self._generated[event.index] += event.new_tokens
        prompt, generated = self._prompt[event.index], self._generated[event.index]
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": generated,
            "total_tokens": prompt + generated,
        }
        tail = b',"usage":' + orjson.dumps(usage) + b"}\n\n"
        # Every frame is b"data: {...}\n\n": the usage goes in before the closing brace.
        return [frame[:-3] + tail for frame in self._inner.frames(event)]

    def start_frames(self) -> list[bytes]:
        return self._inner.start_frames()

    def end_frames(self, usage: UsageCounter) -> list[bytes]:
        return self._inner.end_frames(usage)

    def error_frames(self, error: TeraError) -> list[bytes]:
        return self._inner.error_frames(error)


class PromptLogprobsFolder:
    """Adds `prompt_logprobs`: on each choice for completions, once on the body for chat
    (where all choices share one prompt), where vllm serve puts them."""

    def __init__(self, inner: _Folder, per_choice: bool) -> None:
        self._inner = inner
        self.usage = inner.usage  # the same counter, filled by the inner folder
        self._per_choice = per_choice
        self._by_choice: dict[int, list[PositionLogprobs | None]] = {}

    def add(self, event: ChoiceEvent) -> None:
        self._inner.add(event)
        if event.prompt_logprobs is not None:
            self._by_choice.setdefault(event.index, event.prompt_logprobs)

    def response(self) -> dict[str, Any]:
        body = self._inner.response()
        if self._per_choice:
            for choice in body["choices"]:
                positions = self._by_choice.get(choice["index"], [])
                choice["prompt_logprobs"] = vllm_prompt_logprobs(positions)
        else:
            body["prompt_logprobs"] = vllm_prompt_logprobs(self._by_choice.get(0, []))
        return body


def with_stream_extras(encoder: _Encoder, prepared: PreparedGeneration) -> _Encoder:
    return ContinuousUsageEncoder(encoder, prepared) if prepared.continuous_usage else encoder


def with_fold_extras(folder: _Folder, prepared: PreparedGeneration, chat: bool) -> _Folder:
    if prepared.prompt_logprobs is None:
        return folder
    return PromptLogprobsFolder(folder, per_choice=not chat)
