"""The Engine protocol: the narrow waist between tera-serve and whatever runs the model.

The engine never sees a request body. It receives a prepared request (prompt token ids
and sampling settings) and yields deltas: new token ids, their text, optional logprobs,
and a finish reason on the last delta.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tera_serve.core.logprobs import PositionLogprobs


@dataclass(frozen=True)
class SamplingSpec:
    """Sampling settings in engine-neutral form (converted by each engine)."""

    max_tokens: int
    """0: score the prompt only (prefill, prompt logprobs), generate nothing."""
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    logprobs: int | None = None
    """None: no logprobs; k >= 0: the sampled token's logprob plus k alternatives."""
    prompt_logprobs: int | None = None
    """None: none; k >= 0: each prompt token's logprob (the first has none) plus k alternatives."""
    logit_bias: Mapping[int, float] | None = None
    skip_special_tokens: bool = True
    structured: StructuredConstraint | None = None
    thinking_token_budget: int | None = None
    """Reasoning models: after this many reasoning tokens the engine ends the reasoning."""


@dataclass(frozen=True)
class StructuredConstraint:
    """A guided-decoding constraint; exactly one field is set."""

    json_schema: Mapping[str, Any] | None = None
    json_object: bool = False
    regex: str | None = None
    grammar: str | None = None
    structural_tag: str | None = None


@dataclass(frozen=True)
class EngineRequest:
    request_id: str
    prompt_token_ids: tuple[int, ...]
    sampling: SamplingSpec
    reasoning_ended: bool | None = None
    """For reasoning models with a constraint: whether the prompt already closed reasoning."""
    images: tuple[Any, ...] = ()
    """Decoded pictures (PIL images), one per image placeholder in `prompt_token_ids`,
    in order; the engine's processor expands each placeholder."""


@dataclass
class EngineDelta:
    """What one engine step produced for one request."""

    token_ids: list[int]
    text: str
    logprobs: list[PositionLogprobs] | None = None
    finish_reason: str | None = None
    """`stop`, `length` or `abort` on the last delta; None before."""
    stop_reason: int | str | None = None
    """What ended the output with `stop`: the matched stop string, a stop token id, or None
    (end of sequence); Messages reports a matched string as `stop_sequence`."""
    prompt_logprobs: list[PositionLogprobs | None] | None = None
    """On the first delta when the request asked for them: one entry per prompt token
    (None for the first, which has nothing before it)."""
    cached_tokens: int | None = None
    """On the first delta: prompt tokens the engine's prefix cache already held."""


@dataclass(frozen=True)
class EngineInfo:
    """Facts about the loaded model the rest of the server needs."""

    model_path: str
    max_model_len: int
    dtype: str
    quantization: str | None
    hf_config: Any
    """The model's transformers config (model_type, architectures, ...)."""
    supports_thinking_budget: bool = False
    """The engine can end reasoning after `thinking_token_budget` tokens."""


class EngineDeadError(Exception):
    """The engine stopped working; the process should exit so a supervisor restarts it."""


class EngineRequestError(Exception):
    """The engine would refuse this request (e.g. a grammar its backend cannot compile)."""


class Engine(Protocol):
    """What the service layer needs from an engine. Only engines implement it."""

    info: EngineInfo

    def generate(self, request: EngineRequest) -> AsyncIterator[EngineDelta]:
        """Stream deltas. Closing the iterator early aborts the request."""
        ...

    def validate(self, request: EngineRequest) -> None:
        """Raise EngineRequestError if the engine would refuse the request. May block."""
        ...

    async def abort(self, request_id: str) -> None: ...

    def is_healthy(self) -> bool: ...

    def unfinished_requests(self) -> int:
        """Requests the engine still holds (0 after every stream ended or was aborted)."""
        ...

    async def close(self) -> None: ...
