"""Prometheus metrics (per model) and the per-request record behind the request log line.

One `Metrics` object per server (no module-level state). vLLM's own engine metrics live in
prometheus_client's default registry and are exported beside ours by /metrics.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56)


@dataclass
class RequestRecord:
    """What the handler learned about one request; logged and counted when it ends."""

    request_id: str
    method: str
    path: str
    model: str | None = None
    key_name: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens the engine's prefix cache already held."""
    finish_reasons: list[str] = field(default_factory=list)
    outcome: str = "ok"
    """ok, error, timeout, client_closed."""
    error_type: str | None = None
    arrived: float = field(default_factory=time.perf_counter)


def scope_record(scope: Mapping[str, Any]) -> RequestRecord | None:
    """The record the access-log middleware put in an ASGI scope's state, if any."""
    record = scope.get("state", {}).get("record")
    return record if isinstance(record, RequestRecord) else None


def _counter(registry: CollectorRegistry, name: str, doc: str, *labels: str) -> Counter:
    return Counter(name, doc, ["model", *labels], registry=registry)


def _histogram(
    registry: CollectorRegistry, name: str, doc: str, buckets: tuple[float, ...] = _LATENCY_BUCKETS
) -> Histogram:
    return Histogram(name, doc, ["model"], buckets=buckets, registry=registry)


class Metrics:
    """tera-serve's series, each labelled by model, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._add_traffic(self.registry)
        self._add_latencies(self.registry)
        self._add_load(self.registry)

    def _add_traffic(self, r: CollectorRegistry) -> None:
        self.requests = _counter(
            r,
            "tera_requests",
            "Finished HTTP requests to generation endpoints, by status and finish reason.",
            "endpoint",
            "status",
            "finish_reason",
        )
        self.prompt_tokens = _counter(r, "tera_prompt_tokens", "Prompt tokens processed.")
        self.cached_prompt_tokens = _counter(
            r,
            "tera_cached_prompt_tokens",
            "Prompt tokens served from the engine's prefix cache (a part of tera_prompt_tokens).",
        )
        self.generation_tokens = _counter(
            r, "tera_generation_tokens", "Tokens generated (reasoning included)."
        )

    def _add_latencies(self, r: CollectorRegistry) -> None:
        self.time_to_first_token = _histogram(
            r,
            "tera_time_to_first_token_seconds",
            "From request arrival to the first generated token.",
        )
        self.inter_token_latency = _histogram(
            r,
            "tera_inter_token_latency_seconds",
            "Time between consecutive engine outputs of one choice, per token.",
            _ITL_BUCKETS,
        )
        self.e2e_latency = _histogram(
            r,
            "tera_e2e_request_latency_seconds",
            "From request arrival to the end of the response.",
        )
        self.queue_time = _histogram(
            r, "tera_queue_time_seconds", "Time a request waited for an admission slot."
        )

    def _add_load(self, r: CollectorRegistry) -> None:
        """Requests in flight and waiting, and those refused or aborted."""
        self.running = Gauge(
            "tera_requests_running", "Requests generating now.", ["model"], registry=r
        )
        self.waiting = Gauge(
            "tera_requests_waiting", "Requests queued for an admission slot.", ["model"], registry=r
        )
        self.rate_limited = _counter(
            r,
            "tera_rate_limit_rejections",
            "Requests refused with 429 (per-key limits) or 503 (admission), by reason.",
            "reason",
        )
        self.aborts = _counter(
            r,
            "tera_aborts",
            "Engine requests aborted before finishing, by reason (client_closed, timeout, error).",
            "reason",
        )

    def record_finished(self, record: RequestRecord, status: int, duration_s: float) -> None:
        if record.model is None:
            return
        model = record.model
        reasons = set(record.finish_reasons) or {"none"}
        reason = reasons.pop() if len(reasons) == 1 else "mixed"
        self.requests.labels(model, record.path, str(status), reason).inc()
        if record.prompt_tokens:
            self.prompt_tokens.labels(model).inc(record.prompt_tokens)
        if record.cached_tokens:
            self.cached_prompt_tokens.labels(model).inc(record.cached_tokens)
        if record.completion_tokens:
            self.generation_tokens.labels(model).inc(record.completion_tokens)
        if status == 200:
            self.e2e_latency.labels(model).observe(duration_s)
        if record.outcome in ("client_closed", "timeout"):
            self.aborts.labels(model, record.outcome).inc()


class GenerationObserver:
    """Times one generation: first token, gaps between engine outputs, and the outcome."""

    def __init__(self, metrics: Metrics, record: RequestRecord, model: str) -> None:
        self._record = record
        self._ttft = metrics.time_to_first_token.labels(model)
        self._itl = metrics.inter_token_latency.labels(model)
        self._running = metrics.running.labels(model)
        self._last: float | None = None
        record.model = model
        self._started = False
        self._done = False

    def start(self) -> None:
        """Generation begins (called from inside the body, so an unsent body counts nothing)."""
        if not self._started:
            self._started = True
            self._running.inc()

    def on_tokens(self, new_tokens: int, finish_reason: str | None) -> None:
        if new_tokens:
            now = time.perf_counter()
            if self._last is None:
                self._ttft.observe(now - self._record.arrived)
            else:
                self._itl.observe((now - self._last) / new_tokens)
            self._last = now
        if finish_reason is not None:
            self._record.finish_reasons.append(finish_reason)

    def finish(
        self, prompt_tokens: int, completion_tokens: int, outcome: str, cached_tokens: int = 0
    ) -> None:
        if self._done:
            return
        self._done = True
        if self._started:
            self._running.dec()
        self._record.prompt_tokens = prompt_tokens
        self._record.completion_tokens = completion_tokens
        self._record.cached_tokens = cached_tokens
        self._record.outcome = outcome
