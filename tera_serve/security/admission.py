"""Admission control per model: a bounded number of running plus queued requests.

A request is admitted, queued or refused (503) in one synchronous step, before any
tokenization work. A queued request waits at most `queue_timeout_s`. A slot is handed
straight from a finishing request to the oldest waiter, so a newcomer cannot overtake
the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from tera_serve.errors import ServiceUnavailableError

RETRY_AFTER_S = "1"


class ModelGate:
    def __init__(self, model: str, max_running: int, max_queued: int) -> None:
        self._model = model
        self._max_running = max_running
        self._max_queued = max_queued
        self._running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def running(self) -> int:
        return self._running

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def enter(self, timeout_s: float) -> None:
        if self._running < self._max_running and not self._waiters:
            self._running += 1
            return
        if len(self._waiters) >= self._max_queued:
            raise ServiceUnavailableError(
                f"The model '{self._model}' is at capacity ({self._max_running} running, "
                f"{self._max_queued} queued); retry shortly.",
                code="over_capacity",
                headers={"Retry-After": RETRY_AFTER_S},
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # granted just as we gave up: pass the slot on
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):  # leave() may have dropped it already
                    self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise ServiceUnavailableError(
                    f"The request waited {timeout_s:g} s in the queue for '{self._model}'.",
                    code="queue_timeout",
                    headers={"Retry-After": RETRY_AFTER_S},
                ) from None
            raise

    def leave(self) -> None:
        """Free one slot; the oldest live waiter takes it over."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._running = max(self._running - 1, 0)


class AdmissionControl:
    def __init__(self, max_running: int, max_queued: int, queue_timeout_s: float) -> None:
        self._max_running = max_running
        self._max_queued = max_queued
        self._timeout = queue_timeout_s
        self._gates: dict[str, ModelGate] = {}

    def gate(self, model: str) -> ModelGate:
        gate = self._gates.get(model)
        if gate is None:
            gate = self._gates[model] = ModelGate(model, self._max_running, self._max_queued)
        return gate

    async def acquire(self, model: str) -> Callable[[], None]:
        """Wait for a slot of `model`; returns the function that frees it (idempotent)."""
        gate = self.gate(model)
        await gate.enter(self._timeout)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                gate.leave()

        return release

    def busy(self) -> int:
        """Requests running or queued, over every model."""
        return sum(g.running + g.queued for g in self._gates.values())
