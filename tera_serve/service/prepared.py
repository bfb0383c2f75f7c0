"""A request after every 4xx has been decided: what the engine runs, and the answer's facts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tera_serve.core.prepared import PreparedAnswer
from tera_serve.engine.base import EngineRequest
from tera_serve.parsing.base import OutputParser


@dataclass(frozen=True)
class PreparedGeneration:
    answer: PreparedAnswer
    """What the encoders know (ids, sizes, what the client asked back)."""
    engine_requests: tuple[EngineRequest, ...]
    """One per choice, in choice order."""
    make_parser: Callable[[], OutputParser]
    """The family's parser chain, one per choice."""

    @property
    def request_id(self) -> str:
        return self.answer.request_id

    def max_new_tokens(self) -> int:
        """The most tokens the request's sequences may generate together (n × max_tokens)."""
        return sum(r.sampling.max_tokens for r in self.engine_requests)
