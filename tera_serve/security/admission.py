"""Admission control per model: a bounded number of running sequences plus queued requests.

Capacity counts sequences, not HTTP requests: `n: 16` (or 4 prompts times `n: 4`) takes
16 slots. A request is admitted, queued or refused (503) in one synchronous step, before
any tokenization work. A queued request waits at most `queue_timeout_s`. A slot is handed
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
    """Capacity in sequences (a request with `n: 4` takes 4), handed out in arrival order."""

    def __init__(self, model: str, max_running: int, max_queued: int) -> None:
        self._model = model
        self._max_running = max_running
        self._max_queued = max_queued
        self._running = 0
        self._waiters: deque[tuple[asyncio.Future[None], int]] = deque()

    @property
    def running(self) -> int:
        """Sequences holding a slot."""
        return self._running

    @property
    def queued(self) -> int:
        return sum(1 for waiter, _ in self._waiters if not waiter.done())

    def weight_of(self, sequences: int) -> int:
        """A request larger than the whole capacity runs alone rather than never."""
        return min(max(sequences, 1), self._max_running)

    async def enter(self, timeout_s: float, weight: int = 1) -> None:
        if not self._waiters and self._running + weight <= self._max_running:
            self._running += weight
            return
        if len(self._waiters) >= self._max_queued:
            raise ServiceUnavailableError(
                f"The model '{self._model}' is at capacity ({self._max_running} sequences "
                f"running, {self._max_queued} requests queued); retry shortly.",
                code="over_capacity",
                headers={"Retry-After": RETRY_AFTER_S},
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (waiter, weight)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.leave(weight)  # granted just as we gave up: pass the slot on
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):  # _grant() may have dropped it already
                    self._waiters.remove(entry)
                self._grant()  # a large waiter leaving may let smaller ones in
            if isinstance(exc, TimeoutError):
                raise ServiceUnavailableError(
                    f"The request waited {timeout_s:g} s in the queue for '{self._model}'.",
                    code="queue_timeout",
                    headers={"Retry-After": RETRY_AFTER_S},
                ) from None
            raise

    def leave(self, weight: int = 1) -> None:
        """Free `weight` sequences; the oldest waiters that now fit take them over."""
        self._running = max(self._running - weight, 0)
        self._grant()

    def _grant(self) -> None:
        while self._waiters:
            waiter, weight = self._waiters[0]
            if waiter.done():
                self._waiters.popleft()
                continue
            if self._running + weight > self._max_running:
                return  # first come, first served: nobody overtakes the head of the queue
            self._waiters.popleft()
            self._running += weight
            waiter.set_result(None)


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

    async def acquire(self, model: str, sequences: int = 1) -> Callable[[], None]:
        """Wait for room for `sequences` of `model`; returns the function that frees it
        (idempotent)."""
        gate = self.gate(model)
        weight = gate.weight_of(sequences)
        await gate.enter(self._timeout, weight)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                gate.leave(weight)

        return release

    def busy(self) -> int:
        """Requests running or queued, over every model."""
        return sum(g.running + g.queued for g in self._gates.values())
