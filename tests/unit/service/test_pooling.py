"""Pooled vectors after the engine: Matryoshka truncation and cosine."""

from __future__ import annotations

import numpy as np

from tera_serve.service.pooling import cosine, truncated


def test_truncation_renormalizes_and_leaves_full_length_alone() -> None:
    vector = np.array([3.0, 4.0, 12.0], dtype=np.float32) / 13.0
    assert np.allclose(truncated(vector, 2), [0.6, 0.8])
    assert truncated(vector, None) is vector and truncated(vector, 3) is vector


def test_cosine_ignores_length_and_zero_vectors_score_zero() -> None:
    a = np.array([1.0, 0.0], dtype=np.float32)
    assert cosine(a, 5 * a) == 1.0
    assert cosine(a, np.array([0.0, 2.0], dtype=np.float32)) == 0.0
    assert cosine(a, np.zeros(2, dtype=np.float32)) == 0.0
