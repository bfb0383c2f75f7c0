"""The pooling engine protocol: embeddings and cross-encoder scores from token ids.

A pooling engine is a third kind of work beside generation and speech. It shares the
generation engine's lifecycle members (health, unfinished requests, abort, close), so the
server watches, lists and stops it as any other model; it never generates text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tera_serve.engine.base import Engine, EngineInfo

EMBED = "embed"
CLASSIFY = "classify"

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PoolingInfo:
    """What the pooling model can do, as its engine read it from the model's files."""

    tasks: frozenset[str]
    """`embed` (a bi-encoder) and/or `classify` (a cross-encoder: one score per pair)."""
    dimensions: int
    """Length of an embedding (embed), or of a classifier's output (classify)."""
    matryoshka: bool = False
    """Embeddings may be truncated to fewer `dimensions` (then re-normalized)."""
    normalized: bool = True
    """The pooler L2-normalizes its embeddings (sentence-transformers' Normalize module)."""
    vocab_size: int = 0


@dataclass(frozen=True)
class PairInput:
    """One cross-encoder input: both texts' token ids, and where the second one starts."""

    token_ids: tuple[int, ...]
    second_start: int | None
    """Index of the first token of type 1 (BERT's token_type_ids); None: one segment."""


class PoolingEngine(Engine, Protocol):
    """An Engine (health, unfinished requests, abort, close; `generate` refuses) that pools."""

    info: EngineInfo
    pooling: PoolingInfo

    async def describe(self) -> PoolingInfo:
        """Ask the running engine what it can do (its tasks); sets and returns `pooling`."""
        ...

    async def embed(
        self, request_id: str, token_ids: Sequence[int], dimensions: int | None = None
    ) -> Vector:
        """One input's pooled embedding (truncated to `dimensions` when given)."""
        ...

    async def classify(self, request_id: str, pair: PairInput) -> Vector:
        """One pair's classifier output (after the model's activation)."""
        ...
