"""A request after every 4xx has been decided: what the engine runs and how to answer."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from tera_serve.engine.base import EngineRequest
from tera_serve.parsing.base import OutputParser


def new_request_id() -> str:
    return secrets.token_hex(16)


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

    @staticmethod
    def now() -> int:
        return int(time.time())
