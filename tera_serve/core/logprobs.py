"""Token logprobs as every layer sees them: what an engine reports, what encoders send."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    token_bytes: tuple[int, ...]
    token_id: int | None = None
    rank: int | None = None
    """1 for the most likely token at this position."""


@dataclass(frozen=True)
class PositionLogprobs:
    """The sampled token's logprob and the top alternatives at one position."""

    chosen: TokenLogprob
    top: tuple[TokenLogprob, ...]
