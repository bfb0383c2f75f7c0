"""Per-key rate limits and per-model admission, on a fake clock and a bare event loop."""

from __future__ import annotations

import asyncio

import pytest

from tera_serve.errors import RateLimitError, ServiceUnavailableError
from tera_serve.security.admission import AdmissionControl, ModelGate
from tera_serve.security.keys import KeyRecord
from tera_serve.security.ratelimit import RateLimiter, SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(**limits: int) -> KeyRecord:
    return KeyRecord(name="k", sha256="a" * 64, **limits)  # type: ignore[arg-type]


def test_window_slides_and_bounds_memory() -> None:
    window = SlidingWindow()
    for i in range(10_000):
        window.add(100.0 + i * 0.01, 1)  # 100 s of traffic at 100/s
    assert len(window._bins) <= 61
    assert window.used(200.0) == pytest.approx(6000, abs=100)
    assert window.used(300.0) == 0


def test_window_never_releases_early() -> None:
    window = SlidingWindow()
    window.add(10.0, 3)
    window.add(10.5, 2)
    assert window.used(69.9) == 5
    assert window.seconds_until_below(5, 11.0) == pytest.approx(59.5)
    assert window.used(70.5) == 0


def test_rpm_exact_with_retry_after_and_headers() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    k = key(rpm=5)
    for _ in range(5):
        limiter.admit(k)
        limiter.release(k)
        clock.now += 1
    with pytest.raises(RateLimitError) as info:
        limiter.admit(k)
    headers = info.value.headers
    assert info.value.status == 429 and info.value.code == "rpm_limit_exceeded"
    assert headers["Retry-After"] == "55"
    assert headers["x-ratelimit-limit-requests"] == "5"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == "59s"
    clock.now += 55
    limiter.admit(k)  # the oldest request left the window


def test_tpm_counts_tokens_after_the_fact() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    k = key(tpm=100)
    limiter.admit(k)
    limiter.charge_tokens(k, 60)
    limiter.charge_tokens(k, 50)
    limiter.release(k)
    assert dict(limiter.headers(k))["x-ratelimit-remaining-tokens"] == "0"
    with pytest.raises(RateLimitError) as info:
        limiter.admit(k)
    assert info.value.code == "tpm_limit_exceeded"
    assert "x-ratelimit-limit-requests" not in info.value.headers  # no rpm on this key


def test_concurrency_limit() -> None:
    limiter = RateLimiter(Clock())
    k = key(max_concurrency=2)
    limiter.admit(k)
    limiter.admit(k)
    with pytest.raises(RateLimitError) as info:
        limiter.admit(k)
    assert info.value.code == "concurrency_limit_exceeded"
    assert info.value.headers["Retry-After"] == "1"
    limiter.release(k)
    limiter.admit(k)


def test_unlimited_key_has_no_ratelimit_headers() -> None:
    limiter = RateLimiter(Clock())
    limiter.admit(key())
    assert limiter.headers(key()) == []


async def test_gate_admits_queues_and_refuses_atomically() -> None:
    gate = ModelGate("m", max_running=2, max_queued=2)
    await gate.enter(1)
    await gate.enter(1)
    waiters = [asyncio.create_task(gate.enter(5)) for _ in range(2)]
    await asyncio.sleep(0)
    assert (gate.running, gate.queued) == (2, 2)
    with pytest.raises(ServiceUnavailableError) as info:
        await gate.enter(5)
    assert info.value.status == 503 and info.value.headers["Retry-After"]
    assert info.value.code == "over_capacity"
    gate.leave()
    await asyncio.sleep(0)
    assert waiters[0].done() and not waiters[1].done()  # first come, first served
    gate.leave()
    await asyncio.gather(*waiters)
    assert (gate.running, gate.queued) == (2, 0)
    gate.leave()
    gate.leave()
    assert gate.running == 0


async def test_queue_wait_is_bounded() -> None:
    gate = ModelGate("m", max_running=1, max_queued=4)
    await gate.enter(1)
    with pytest.raises(ServiceUnavailableError) as info:
        await gate.enter(0.05)
    assert info.value.code == "queue_timeout"
    assert (gate.running, gate.queued) == (1, 0)


async def test_cancelled_waiter_gives_its_place_back() -> None:
    gate = ModelGate("m", max_running=1, max_queued=4)
    await gate.enter(1)
    waiter = asyncio.create_task(gate.enter(5))
    second = asyncio.create_task(gate.enter(5))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.sleep(0)
    gate.leave()
    await second
    assert (gate.running, gate.queued) == (1, 0)


async def test_slot_granted_as_the_waiter_gives_up_is_passed_on() -> None:
    """Granted and cancelled (or timed out) in the same loop turn: the slot moves on."""
    gate = ModelGate("m", max_running=1, max_queued=4)
    await gate.enter(1)
    first = asyncio.create_task(gate.enter(5))
    second = asyncio.create_task(gate.enter(5))
    await asyncio.sleep(0)
    gate.leave()  # grants `first` ...
    first.cancel()  # ... which gives up before it runs again
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError) and results[1] is None
    assert (gate.running, gate.queued) == (1, 0)


async def test_release_is_idempotent_and_busy_counts_everything() -> None:
    control = AdmissionControl(max_running=1, max_queued=1, queue_timeout_s=5)
    release = await control.acquire("m")
    queued = asyncio.create_task(control.acquire("m"))
    await asyncio.sleep(0)
    assert control.busy() == 2
    release()
    release()
    (await queued)()
    assert control.busy() == 0
