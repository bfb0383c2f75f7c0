"""Pooling metrics (tera_embedding_*) and the observer that feeds them and the request's
access-log record (its input tokens are the prompt tokens per-key limits charge)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tera_serve.metrics import RequestRecord

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class PoolingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.inputs = Counter(
            "tera_embedding_inputs",
            "Inputs pooled (texts embedded, or pairs scored), by endpoint.",
            ["model", "endpoint"],
            registry=registry,
        )
        self.input_tokens = Counter(
            "tera_embedding_input_tokens",
            "Input tokens pooled (what per-key token limits charge).",
            ["model"],
            registry=registry,
        )
        self.engine_time = Histogram(
            "tera_embedding_engine_seconds",
            "From a pooling request's first input sent to the engine to its last result.",
            ["model", "endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.running = Gauge(
            "tera_embedding_requests_running",
            "Pooling requests the engine works on now.",
            ["model"],
            registry=registry,
        )


class PoolingObserver:
    """Times one pooling request and records what it pooled."""

    def __init__(
        self, metrics: PoolingMetrics, record: RequestRecord, model: str, endpoint: str
    ) -> None:
        self._metrics = metrics
        self._record = record
        self._model = model
        self._endpoint = endpoint
        self._started: float | None = None
        record.model = model

    def start(self, inputs: int, tokens: int) -> None:
        self._record.prompt_tokens = tokens
        self._started = time.perf_counter()
        self._metrics.running.labels(self._model).inc()
        self._inputs = inputs

    def finish(self, outcome: str) -> None:
        if self._started is None:
            return
        self._metrics.running.labels(self._model).dec()
        self._record.outcome = outcome
        if outcome == "ok":
            self._record.finish_reasons.append("stop")
            elapsed = time.perf_counter() - self._started
            self._metrics.engine_time.labels(self._model, self._endpoint).observe(elapsed)
            self._metrics.inputs.labels(self._model, self._endpoint).inc(self._inputs)
            self._metrics.input_tokens.labels(self._model).inc(self._record.prompt_tokens)
        self._started = None
