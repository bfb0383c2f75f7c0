"""Per-key limits: requests per minute, tokens per minute, concurrent sequences.

Tokens are charged before they are served (DESIGN rule 10): a request reserves its prompt
plus `n` times `max_tokens` when it is admitted, and settles to what it really used when
it ends (aborts included). A reservation is refused when it does not fit in what is left
of the minute, unless nothing at all is used or reserved (so a request larger than the
whole budget can still run, alone): a key never gets more than its tpm plus one request
in any minute, whatever its concurrency.

Each check-and-record runs without an await in between, so on one event loop it is atomic.
Windows slide over the last 60 s in bins of about a second, so memory per key stays bounded
however fast requests arrive; an amount leaves the window at most a second late, never early.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tera_serve.errors import RateLimitError
from tera_serve.security.keys import KeyRecord

WINDOW_S = 60.0
_BIN_S = 1.0


@dataclass
class _Bin:
    first: float
    last: float
    amount: int


@dataclass
class SlidingWindow:
    """The sum of amounts added over the last WINDOW_S seconds."""

    _bins: deque[_Bin] = field(default_factory=deque)
    _total: int = 0

    def _prune(self, now: float) -> None:
        while self._bins and self._bins[0].last + WINDOW_S <= now:
            self._total -= self._bins.popleft().amount

    def used(self, now: float) -> int:
        self._prune(now)
        return self._total

    def add(self, now: float, amount: int) -> None:
        self._prune(now)
        if amount <= 0:
            return
        if self._bins and now - self._bins[-1].first < _BIN_S:
            self._bins[-1].amount += amount
            self._bins[-1].last = now
        else:
            self._bins.append(_Bin(now, now, amount))
        self._total += amount

    def seconds_until_below(self, limit: int, now: float) -> float:
        """How long until the window holds less than `limit`."""
        self._prune(now)
        total = self._total
        for item in self._bins:
            if total < limit:
                break
            total -= item.amount
            if total < limit:
                return max(item.last + WINDOW_S - now, 0.0)
        return 0.0

    def seconds_until_empty(self, now: float) -> float:
        self._prune(now)
        return self._bins[-1].last + WINDOW_S - now if self._bins else 0.0


@dataclass
class KeyUsage:
    requests: SlidingWindow = field(default_factory=SlidingWindow)
    tokens: SlidingWindow = field(default_factory=SlidingWindow)
    reserved: int = 0
    """Tokens reserved by requests in flight (not yet in `tokens`)."""
    concurrent: int = 0
    """Sequences in flight (a request counts one until it is admitted with its `n`)."""


def _seconds(value: float) -> str:
    return f"{max(math.ceil(value), 0)}s"


def _idle(usage: KeyUsage, now: float) -> bool:
    """Nothing in flight, reserved or in either window: the same as a fresh KeyUsage."""
    return (
        usage.concurrent == 0
        and usage.reserved == 0
        and usage.requests.used(now) == 0
        and usage.tokens.used(now) == 0
    )


class RateLimiter:
    """Usage per key identity, never per name (DESIGN rule 12): a reloaded key keeps its
    usage, a rotated one (a new secret under the same name) starts afresh, and two keys
    never share a bucket."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._usage: dict[str, KeyUsage] = {}

    def _of(self, key: KeyRecord) -> KeyUsage:
        usage = self._usage.get(key.identity)
        if usage is None:
            # A key seen for the first time: drop idle buckets (rotated or revoked keys'),
            # so the table follows the keys in use, not every secret ever presented.
            now = self._clock()
            for identity in [i for i, u in self._usage.items() if _idle(u, now)]:
                del self._usage[identity]
            usage = self._usage[key.identity] = KeyUsage()
        return usage

    def admit(self, key: KeyRecord) -> None:
        """Count one request, or raise a 429 with Retry-After; callers `release()` after."""
        usage, now = self._of(key), self._clock()
        refusal = self._refusal(key, usage, now)
        if refusal is not None:
            raise self._error(key, *refusal)
        usage.requests.add(now, 1)
        usage.concurrent += 1

    @staticmethod
    def _refusal(key: KeyRecord, usage: KeyUsage, now: float) -> tuple[float, str, str] | None:
        """(seconds to wait, error code, the limit in words) for the first limit hit."""
        if key.max_concurrency is not None and usage.concurrent >= key.max_concurrency:
            return 1.0, "concurrency_limit_exceeded", f"{key.max_concurrency} concurrent requests"
        if key.rpm is not None and usage.requests.used(now) >= key.rpm:
            wait = usage.requests.seconds_until_below(key.rpm, now)
            return wait, "rpm_limit_exceeded", f"{key.rpm} requests per minute"
        if key.tpm is not None and usage.tokens.used(now) + usage.reserved >= key.tpm:
            wait = usage.tokens.seconds_until_below(key.tpm, now)
            return wait, "tpm_limit_exceeded", f"{key.tpm} tokens per minute"
        return None

    def release(self, key: KeyRecord, sequences: int = 1) -> None:
        usage = self._of(key)
        usage.concurrent = max(usage.concurrent - sequences, 0)

    def add_sequences(self, key: KeyRecord, extra: int) -> None:
        """A request admitted with more than one sequence counts them all (or 429)."""
        if extra <= 0:
            return
        usage = self._of(key)
        limit = key.max_concurrency
        if limit is not None and usage.concurrent + extra > limit:
            raise self._error(
                key,
                1.0,
                "concurrency_limit_exceeded",
                f"{limit} concurrent sequences ({usage.concurrent} in flight, this request "
                f"adds {extra + 1})",
            )
        usage.concurrent += extra

    def reserve_tokens(self, key: KeyRecord, tokens: int) -> None:
        """Hold `tokens` against the key's tpm until `settle_tokens` (or 429)."""
        usage, now = self._of(key), self._clock()
        limit = key.tpm
        if limit is not None:
            taken = usage.tokens.used(now) + usage.reserved
            if taken > 0 and taken + tokens > limit:
                wait = usage.tokens.seconds_until_below(max(limit - tokens, 1), now)
                raise self._error(
                    key,
                    max(wait, 1.0),
                    "tpm_limit_exceeded",
                    f"{limit} tokens per minute ({taken} used or reserved, this request may "
                    f"use {tokens})",
                )
        usage.reserved += tokens

    def settle_tokens(self, key: KeyRecord, reserved: int, used: int) -> None:
        """Replace a reservation with what the request really used."""
        usage = self._of(key)
        usage.reserved = max(usage.reserved - reserved, 0)
        usage.tokens.add(self._clock(), used)

    def charge_tokens(self, key: KeyRecord, tokens: int) -> None:
        self._of(key).tokens.add(self._clock(), tokens)

    def _error(self, key: KeyRecord, retry: float, code: str, what: str) -> RateLimitError:
        headers = dict(self.headers(key))
        headers["Retry-After"] = str(max(math.ceil(retry), 1))
        return RateLimitError(
            f"Rate limit reached for key '{key.name}': {what}. "
            f"Retry after {headers['Retry-After']} s.",
            code=code,
            headers=headers,
        )

    def headers(self, key: KeyRecord) -> list[tuple[str, str]]:
        """`x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the limits the key has."""
        usage, now = self._of(key), self._clock()
        out: list[tuple[str, str]] = []
        for kind, limit, window, held in (
            ("requests", key.rpm, usage.requests, 0),
            ("tokens", key.tpm, usage.tokens, usage.reserved),
        ):
            if limit is None:
                continue
            remaining = max(limit - window.used(now) - held, 0)
            out += [
                (f"x-ratelimit-limit-{kind}", str(limit)),
                (f"x-ratelimit-remaining-{kind}", str(remaining)),
                (f"x-ratelimit-reset-{kind}", _seconds(window.seconds_until_empty(now))),
            ]
        return out
