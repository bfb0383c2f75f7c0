"""Speech metrics (audio produced, real-time factor, time to first audio) and the observer
that feeds them and the request's access-log record."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tera_serve.metrics import RequestRecord

_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32)
_RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4, 8)


class SpeechMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.audio_seconds = Counter(
            "tera_speech_audio_seconds", "Seconds of audio produced.", ["model"], registry=registry
        )
        self.characters = Counter(
            "tera_speech_input_characters",
            "Characters of input text spoken (what per-key token limits charge).",
            ["model"],
            registry=registry,
        )
        self.real_time_factor = Histogram(
            "tera_speech_real_time_factor",
            "Synthesis time divided by the audio's duration, per request (below 1: faster "
            "than real time).",
            ["model"],
            buckets=_RTF_BUCKETS,
            registry=registry,
        )
        self.time_to_first_audio = Histogram(
            "tera_speech_time_to_first_audio_seconds",
            "From request arrival to the first audio chunk synthesized.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.running = Gauge(
            "tera_speech_requests_running",
            "Speech requests synthesizing now.",
            ["model"],
            registry=registry,
        )


class SpeechObserver:
    """Times one synthesis and records what it produced."""

    def __init__(
        self, metrics: SpeechMetrics, record: RequestRecord, model: str, characters: int
    ) -> None:
        self._metrics = metrics
        self._record = record
        self._model = model
        self._characters = characters
        self._samples = 0
        self._synth_s = 0.0
        self._first = False
        self._started = False
        self._done = False
        record.model = model
        record.prompt_tokens = characters

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._metrics.running.labels(self._model).inc()

    def on_audio(self, samples: int, synth_s: float) -> None:
        self._samples += samples
        self._synth_s += synth_s
        if not self._first:
            self._first = True
            elapsed = time.perf_counter() - self._record.arrived
            self._metrics.time_to_first_audio.labels(self._model).observe(elapsed)

    def finish(self, outcome: str, sample_rate: int) -> None:
        if self._done:
            return
        self._done = True
        if self._started:
            self._metrics.running.labels(self._model).dec()
        seconds = self._samples / sample_rate
        self._record.outcome = outcome
        if outcome == "ok":
            self._record.finish_reasons.append("stop")
        self._metrics.characters.labels(self._model).inc(self._characters)
        if seconds > 0:
            self._metrics.audio_seconds.labels(self._model).inc(seconds)
            self._metrics.real_time_factor.labels(self._model).observe(self._synth_s / seconds)
