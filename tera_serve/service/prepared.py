"""A request after every 4xx has been decided: what the engine runs and how to answer."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from tera_serve.engine.base import EngineRequest
from tera_serve.parsing.base import OutputParser
from tera_serve.service.prompt_scoring import EchoPrompt


def new_request_id() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Delivery:
    """How the client wants the answer: streamed or whole, and the stream's usage options."""

    stream: bool = False
    include_usage: bool = False
    continuous_usage: bool = False


@dataclass(frozen=True)
class PreparedGeneration:
    """Engine requests (one per choice) plus everything the response needs."""

    request_id: str
    response_id: str
    model_id: str
    created: int
    prompt_tokens: int
    engine_requests: tuple[EngineRequest, ...]
    make_parser: Callable[[], OutputParser]
    stream: bool
    include_usage: bool
    logprobs: bool
    reasoning_fields: tuple[str, ...]
    """Message fields that carry reasoning text (empty for non-reasoning models)."""
    forced_function: bool = False
    """tool_choice named one function: its call finishes with `stop`, as OpenAI does."""
    choices_per_prompt: int = 1
    """`n`: engine requests i*n .. i*n+n-1 share prompt i (their prompt is counted once)."""
    continuous_usage: bool = False
    """Streams: usage on every chunk (`stream_options.continuous_usage_stats`)."""
    prompt_logprobs: int | None = None
    """Return the prompt's logprobs (vLLM's `prompt_logprobs` field) with this many alternatives."""
    echo: tuple[EchoPrompt, ...] | None = None
    """Completions `echo`: per prompt, what each of its choices starts with."""
    omitted_tools: tuple[str, ...] = ()
    """Hosted tools left out of the prompt (the conversation's), for the response header."""

    @staticmethod
    def now() -> int:
        return int(time.time())
