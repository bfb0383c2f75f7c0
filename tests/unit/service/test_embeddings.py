"""Which embedding requests are small enough to prepare on the loop (the rest: the pool)."""

from __future__ import annotations

from tera_serve.protocol.embeddings import EmbeddingRequest
from tera_serve.service.embeddings import INLINE_INPUTS, INLINE_UNITS, is_small


def _small(value: object) -> bool:
    return is_small(EmbeddingRequest.model_validate({"model": "m", "input": value}))


def test_small_requests_are_few_short_inputs() -> None:
    assert _small("hello") and _small(["a", "b"]) and _small([1, 2, 3]) and _small([[1], [2]])
    assert _small(list(range(INLINE_UNITS)))  # one token array of the largest small size
    assert not _small("x" * (INLINE_UNITS + 1))
    assert not _small(["a"] * (INLINE_INPUTS + 1))
    assert not _small(["x" * 3000, "y" * 3000])
    assert not _small(list(range(INLINE_UNITS + 1)))
