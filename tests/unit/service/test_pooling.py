"""Running a pooling request's inputs (together, in order, cancelled together) and the
vectors after the engine: Matryoshka truncation and cosine."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from tera_serve.engine.base import EngineRequestError
from tera_serve.errors import ClientDisconnectedError, InvalidRequestError, RequestTimeoutError
from tera_serve.metrics import RequestRecord
from tera_serve.service.pooling import cosine, run_inputs, truncated
from tera_serve.service.pooling_metrics import PoolingMetrics, PoolingObserver


def test_truncation_renormalizes_and_leaves_full_length_alone() -> None:
    vector = np.array([3.0, 4.0, 12.0], dtype=np.float32) / 13.0
    assert np.allclose(truncated(vector, 2), [0.6, 0.8])
    assert truncated(vector, None) is vector and truncated(vector, 3) is vector


def test_cosine_ignores_length_and_zero_vectors_score_zero() -> None:
    a = np.array([1.0, 0.0], dtype=np.float32)
    assert cosine(a, 5 * a) == 1.0
    assert cosine(a, np.array([0.0, 2.0], dtype=np.float32)) == 0.0
    assert cosine(a, np.zeros(2, dtype=np.float32)) == 0.0


def _observer() -> tuple[PoolingObserver, RequestRecord]:
    record = RequestRecord(request_id="r", method="POST", path="/v1/embeddings")
    metrics = PoolingMetrics(CollectorRegistry())
    return PoolingObserver(metrics, record, "m", "/v1/embeddings"), record


async def test_inputs_run_together_and_come_back_in_order() -> None:
    observer, record = _observer()
    seen: list[str] = []

    async def one(engine_id: str, value: int) -> np.ndarray:
        seen.append(engine_id)
        await asyncio.sleep(0.01 * (3 - value))  # the last input finishes first
        return np.array([value], dtype=np.float32)

    out = await run_inputs([1, 2, 3], one, "req", 30, observer, tokens=7)
    assert [float(v[0]) for v in out] == [1.0, 2.0, 3.0]
    assert seen == ["req-0", "req-1", "req-2"]
    assert record.prompt_tokens == 7 and record.outcome == "ok"


async def test_a_client_that_leaves_or_the_deadline_cancels_every_input() -> None:
    cancelled: list[str] = []

    async def stuck(engine_id: str, _: int) -> np.ndarray:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.append(engine_id)
        raise AssertionError("unreachable")

    async def gone() -> None:
        return None

    observer, record = _observer()
    with pytest.raises(ClientDisconnectedError):
        await run_inputs([1, 2], stuck, "a", 30, observer, tokens=2, disconnected=gone)
    assert sorted(cancelled) == ["a-0", "a-1"] and record.outcome == "client_closed"
    observer, record = _observer()
    with pytest.raises(RequestTimeoutError):
        await run_inputs([1], stuck, "b", 0.05, observer, tokens=1)
    assert "b-0" in cancelled and record.outcome == "timeout"


async def test_an_engine_refusal_is_a_400_and_stops_the_rest() -> None:
    cancelled: list[str] = []

    async def one(engine_id: str, value: int) -> np.ndarray:
        if value == 0:
            raise EngineRequestError("bad input")
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.append(engine_id)
        raise AssertionError("unreachable")

    observer, _ = _observer()
    with pytest.raises(InvalidRequestError, match="bad input"):
        await run_inputs([0, 1], one, "c", 30, observer, tokens=2)
    assert cancelled == ["c-1"]
