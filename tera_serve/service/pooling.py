"""Running a prepared pooling request: every input through the engine at once (vLLM
batches them), under the request's deadline; a failure or a cancellation stops the rest."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import numpy as np

from tera_serve.engine.base import EngineDeadError, EngineRequestError
from tera_serve.engine.pooling import Vector
from tera_serve.errors import ClientDisconnectedError, RequestTimeoutError, TeraError
from tera_serve.service.failures import as_tera_error
from tera_serve.service.pooling_metrics import PoolingObserver

T = TypeVar("T")


Disconnected = Callable[[], Coroutine[Any, Any, None]]
"""Returns when the client has gone (the route's watch on the connection)."""


async def run_inputs(
    items: Sequence[T],
    run_one: Callable[[str, T], Coroutine[Any, Any, Vector]],
    request_id: str,
    timeout_s: float,
    observer: PoolingObserver,
    tokens: int,
    disconnected: Disconnected | None = None,
) -> list[Vector]:
    """`run_one(engine_request_id, item)` for every item concurrently; results in order.
    A client that goes away, or the deadline, cancels every input's engine request."""
    observer.start(len(items), tokens)
    work = asyncio.create_task(_all(items, run_one, request_id))
    watcher = asyncio.create_task(disconnected() if disconnected else asyncio.Event().wait())
    outcome = "error"
    try:
        done, _ = await asyncio.wait(
            {work, watcher}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if work in done:
            results = work.result()
            outcome = "ok"
            return results
        if watcher in done:
            outcome = "client_closed"
            raise ClientDisconnectedError("The client closed the connection.")
        outcome = "timeout"
        raise RequestTimeoutError(timeout_s)
    except asyncio.CancelledError:
        outcome = "client_closed"
        raise
    finally:
        for task in (work, watcher):
            task.cancel()
        for task in (work, watcher):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        observer.finish(outcome)


async def _all(
    items: Sequence[T], run_one: Callable[[str, T], Coroutine[Any, Any, Vector]], request_id: str
) -> list[Vector]:
    """In a task group: the first failure cancels the other inputs' engine requests."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(run_one(f"{request_id}-{index}", item))
                for index, item in enumerate(items)
            ]
    except ExceptionGroup as failures:
        first = failures.exceptions[0]
        if isinstance(first, EngineRequestError | EngineDeadError | TeraError):
            raise as_tera_error(first) from None
        raise first from None
    return [task.result() for task in tasks]


def truncated(vector: Vector, dimensions: int | None) -> Vector:
    """The first `dimensions` values, L2-normalized again (a Matryoshka embedding)."""
    if dimensions is None or dimensions >= vector.shape[0]:
        return vector
    head = vector[:dimensions]
    norm = float(np.linalg.norm(head))
    return head / norm if norm > 0 else head


def cosine(a: Vector, b: Vector) -> float:
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denominator) if denominator > 0 else 0.0
