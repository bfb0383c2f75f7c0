"""The speech engine: Kokoro-82M under onnxruntime, run off the event loop with bounded
concurrency.

One onnxruntime session is shared by `workers` threads (session.run is thread-safe); at
most that many chunks synthesize at once and the rest wait in the pool's FIFO queue, so
concurrent requests take turns chunk by chunk. A chunk whose request has gone (client
left, timeout) is stopped inside onnxruntime through its RunOptions, not left running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from tera_serve.errors import ConfigError
from tera_serve.speech.assets import MODEL_FILE
from tera_serve.speech.encoders import Samples
from tera_serve.speech.phonemes import EspeakPhonemizer, Phonemizer
from tera_serve.speech.text import padded
from tera_serve.speech.voices import Voice, VoiceBook

logger = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
T = TypeVar("T")


@dataclass(frozen=True)
class SpeechEngineArgs:
    """What a speech model's `engine_args` may set."""

    workers: int = 1
    """Chunks synthesized at once (threads sharing the session)."""
    intra_op_threads: int = 0
    """onnxruntime threads per chunk; 0: the CPU count divided by `workers`."""
    providers: tuple[str, ...] = ("CUDAExecutionProvider", "CPUExecutionProvider")
    """onnxruntime execution providers in order of preference; unavailable ones are skipped."""

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str) -> SpeechEngineArgs:
        known = {"workers", "intra_op_threads", "providers"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; known keys are {sorted(known)}")
        values = dict(raw)
        for key in ("workers", "intra_op_threads"):
            value = values.get(key)
            if value is not None and (not isinstance(value, int) or value < (key == "workers")):
                raise ConfigError(f"{where}.{key} must be a non-negative integer")
        if "providers" in values:
            providers = values["providers"]
            if not isinstance(providers, list | tuple) or not all(
                isinstance(p, str) for p in providers
            ):
                raise ConfigError(f"{where}.providers must be a list of provider names")
            values["providers"] = tuple(providers)
        return cls(**values)


class Synthesis:
    """One request's cancellation handle: set when its audio is no longer wanted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._options: list[Any] = []
        self.cancelled = False

    def track(self, options: Any) -> None:
        with self._lock:
            if self.cancelled:
                options.terminate = True
            self._options.append(options)

    def untrack(self, options: Any) -> None:
        with self._lock:
            self._options = [o for o in self._options if o is not options]

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            for options in self._options:
                options.terminate = True


class KokoroEngine:
    def __init__(self, folder: Path, args: SpeechEngineArgs, phonemizer: Phonemizer) -> None:
        import onnxruntime as ort

        self._ort = ort
        available = set(ort.get_available_providers())
        providers = [p for p in args.providers if p in available] or ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        threads = args.intra_op_threads or max((os.cpu_count() or 1) // args.workers, 1)
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle onnxruntime threads would otherwise spin on the cores vLLM (or the event loop)
        # needs between chunks.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(folder / MODEL_FILE), sess_options=options, providers=providers
        )
        self.providers = list(self._session.get_providers())
        self.voices = VoiceBook.load(folder / "voices")
        self.phonemize = phonemizer
        self.workers = args.workers
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=args.workers, thread_name_prefix="tera-speech"
        )
        # espeak-ng is single-threaded: its own one-thread pool, apart from synthesis.
        self._text_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="tera-phonemes"
        )
        self._healthy = True
        logger.info(
            "speech engine: %d voices, providers %s, %d workers x %d threads",
            len(self.voices.names),
            self.providers,
            args.workers,
            threads,
        )

    @classmethod
    def start(cls, folder: Path, engine_args: Mapping[str, Any], where: str) -> KokoroEngine:
        return cls(folder, SpeechEngineArgs.from_mapping(engine_args, where), EspeakPhonemizer())

    def is_healthy(self) -> bool:
        return self._healthy

    async def run_text(self, fn: Callable[[], T]) -> T:
        """Text work (phonemes) on the phonemizer's own thread."""
        return await asyncio.get_running_loop().run_in_executor(self._text_pool, fn)

    async def run_worker(self, fn: Callable[[], T]) -> T:
        """Audio work (an encoder's tail) on the synthesis workers, in turn with the chunks."""
        return await asyncio.wrap_future(self._pool.submit(fn))

    def _synthesize(
        self, tokens: Sequence[int], voice: Voice, speed: float, synthesis: Synthesis
    ) -> Samples:
        options = self._ort.RunOptions()
        synthesis.track(options)
        try:
            if synthesis.cancelled:
                return np.zeros(0, dtype=np.float32)
            audio = self._session.run(
                None,
                {
                    "tokens": np.asarray([padded(tokens)], dtype=np.int64),
                    "style": voice.style_for(len(tokens)),
                    "speed": np.asarray([speed], dtype=np.float32),
                },
                options,
            )[0]
        finally:
            synthesis.untrack(options)
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    async def synthesize(
        self,
        tokens: Sequence[int],
        voice: Voice,
        speed: float,
        synthesis: Synthesis,
        then: Callable[[Samples], T],
    ) -> tuple[Samples, T]:
        """Audio of one chunk, and `then(audio)` (the encoder) on the same worker thread."""

        def work() -> tuple[Samples, T]:
            audio = self._synthesize(tokens, voice, speed, synthesis)
            return audio, then(audio)

        future = self._pool.submit(work)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            synthesis.cancel()
            future.cancel()
            raise

    async def close(self) -> None:
        self._healthy = False
        with contextlib.suppress(Exception):
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._text_pool.shutdown(wait=False, cancel_futures=True)
