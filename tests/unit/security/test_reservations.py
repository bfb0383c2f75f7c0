"""Charge before you serve (DESIGN rule 10): tpm reservations, sequences in admission and
per-key concurrency."""

from __future__ import annotations

import asyncio

import pytest

from tera_serve.errors import RateLimitError
from tera_serve.security.admission import ModelGate
from tera_serve.security.ratelimit import RateLimiter
from tests.unit.security.test_limits_units import Clock, key


def test_reservations_hold_tpm_whatever_the_concurrency() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    tpm = key(tpm=1000)
    limiter.admit(tpm)
    limiter.reserve_tokens(tpm, 3200)  # alone in an empty minute: may exceed the budget
    served = 3200
    for _ in range(31):  # everyone else, at once: nothing more fits
        with pytest.raises(RateLimitError) as refused:
            limiter.admit(tpm)
            limiter.reserve_tokens(tpm, 3200)
        assert refused.value.code == "tpm_limit_exceeded"
        assert int(refused.value.headers["Retry-After"]) >= 1
    limiter.settle_tokens(tpm, 3200, used=3100)  # the real usage replaces the reservation
    assert served <= 1000 + 3200
    assert dict(limiter.headers(tpm))["x-ratelimit-remaining-tokens"] == "0"
    clock.now += 61
    limiter.reserve_tokens(tpm, 400)
    limiter.reserve_tokens(tpm, 500)  # fits: 900 of 1000
    with pytest.raises(RateLimitError):
        limiter.reserve_tokens(tpm, 200)
    limiter.settle_tokens(tpm, 400, used=10)  # an abort: charged what it used
    assert dict(limiter.headers(tpm))["x-ratelimit-remaining-tokens"] == str(1000 - 500 - 10)


def test_a_reservation_without_a_tpm_limit_is_free() -> None:
    limiter = RateLimiter(Clock())
    plain = key()
    limiter.reserve_tokens(plain, 10**9)
    limiter.settle_tokens(plain, 10**9, used=5)
    assert limiter.headers(plain) == []


def test_concurrency_counts_sequences() -> None:
    limiter = RateLimiter(Clock())
    four = key(max_concurrency=4)
    limiter.admit(four)
    limiter.add_sequences(four, 3)  # one request with n: 4
    with pytest.raises(RateLimitError, match="concurrent"):
        limiter.admit(four)
    limiter.release(four, 3)
    limiter.release(four)
    limiter.admit(four)
    limiter.admit(four)
    with pytest.raises(RateLimitError, match="sequences"):
        limiter.add_sequences(four, 3)  # 2 in flight + 4 more > 4


async def test_the_gate_counts_sequences_in_arrival_order() -> None:
    gate = ModelGate("m", max_running=4, max_queued=4)
    await gate.enter(1.0, weight=3)
    big = asyncio.ensure_future(gate.enter(5.0, weight=gate.weight_of(16)))  # capped at 4
    await asyncio.sleep(0)
    small = asyncio.ensure_future(gate.enter(5.0, weight=1))  # fits, but may not overtake
    await asyncio.sleep(0.01)
    assert not big.done() and not small.done() and gate.queued == 2
    gate.leave(3)
    await asyncio.sleep(0.01)
    assert big.done() and not small.done() and gate.running == 4
    gate.leave(4)
    await asyncio.sleep(0.01)
    assert small.done() and gate.running == 1
