"""One speech request: decided up front (voice, language, chunks: every 4xx), then synthesized
chunk by chunk into the response body as audio bytes or SSE events.

After the first byte, a failure cannot change the status: an `sse` stream ends with an
`error` event; an `audio` stream is cut off (the client sees an incomplete body, never a
short file that looks whole).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field

import orjson

from tera_serve.errors import InvalidRequestError, RequestTimeoutError, ServerError, TeraError
from tera_serve.protocol.speech import SpeechRequest
from tera_serve.speech.encoders import CONTENT_TYPES, WHOLE_FORMATS, AudioEncoder, new_encoder
from tera_serve.speech.engine import SAMPLE_RATE, Synthesis
from tera_serve.speech.metrics import SpeechObserver
from tera_serve.speech.registry import ServedSpeech
from tera_serve.speech.text import chunk_text
from tera_serve.speech.voices import VoiceChoice

logger = logging.getLogger(__name__)

IGNORED_HEADER = "X-Tera-Ignored"


@dataclass
class SpeechJob:
    served: ServedSpeech
    choice: VoiceChoice
    chunks: list[list[int]]
    speed: float
    response_format: str
    stream_format: str
    characters: int
    ignored: list[str] = field(default_factory=list)

    @property
    def sent_whole(self) -> bool:
        """An `audio` FLAC comes whole, its header with the real length (encoders.py); an
        `sse` stream is streaming by request, so its FLAC says "length unknown"."""
        return self.stream_format == "audio" and self.response_format in WHOLE_FORMATS

    @property
    def content_type(self) -> str:
        if self.stream_format == "sse":
            return "text/event-stream"
        return CONTENT_TYPES[self.response_format]


async def prepare_speech(body: SpeechRequest, served: ServedSpeech) -> SpeechJob:
    """Everything that can be a 400, before any audio is made."""
    engine = served.engine
    choice = engine.voices.choose(body.voice, body.lang_code)

    def phonemize(sentences: Sequence[str]) -> list[str]:
        return engine.phonemize(sentences, choice.language)

    chunks = await engine.run_text(lambda: chunk_text(body.input, phonemize))
    if not chunks:
        raise InvalidRequestError(
            "The input has nothing to speak (no letters Kokoro can pronounce).",
            param="input",
            code="empty_input",
        )
    return SpeechJob(
        served=served,
        choice=choice,
        chunks=chunks,
        speed=body.speed,
        response_format=body.response_format,
        stream_format=body.stream_format,
        characters=len(body.input),
        ignored=["instructions"] if body.instructions else [],
    )


async def _audio_pieces(
    job: SpeechJob, encoder: AudioEncoder, observer: SpeechObserver
) -> AsyncGenerator[bytes, None]:
    """Encoded bytes, one piece per chunk (synthesis and encoding run on the engine's
    workers), then the encoder's tail."""
    engine = job.served.engine
    synthesis = Synthesis()
    try:
        for tokens in job.chunks:
            started = time.perf_counter()
            audio, data = await engine.synthesize(
                tokens, job.choice.voice, job.speed, synthesis, encoder.encode
            )
            observer.on_audio(audio.shape[0], time.perf_counter() - started)
            if data:
                yield data
        rest = await engine.run_worker(encoder.finish)
        if rest:
            yield rest
    finally:
        synthesis.cancel()


def _sse(event: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(event) + b"\n\n"


async def speech_body(
    job: SpeechJob, observer: SpeechObserver, timeout_s: float
) -> AsyncIterator[bytes]:
    observer.start()
    encoder = new_encoder(job.response_format, SAMPLE_RATE, whole=job.sent_whole)
    outcome = "ok"
    sse = job.stream_format == "sse"
    pieces = _audio_pieces(job, encoder, observer)
    try:
        async with asyncio.timeout(timeout_s):
            async for piece in pieces:
                if sse:
                    audio = base64.b64encode(piece).decode("ascii")
                    yield _sse({"type": "speech.audio.delta", "audio": audio})
                else:
                    yield piece
        if sse:
            usage = {"input_tokens": job.characters, "output_tokens": 0}
            usage["total_tokens"] = job.characters
            yield _sse({"type": "speech.audio.done", "usage": usage})
    except (asyncio.CancelledError, GeneratorExit):
        outcome = "client_closed"
        raise
    except Exception as exc:
        error: TeraError
        if isinstance(exc, TimeoutError):
            outcome, error = "timeout", RequestTimeoutError(timeout_s)
        else:
            outcome = "error"
            logger.exception("speech synthesis failed")
            error = ServerError("Speech synthesis failed.", code="synthesis_failed")
        if not sse:
            raise
        yield _sse({"type": "error", **error.to_body()})
    finally:
        await pieces.aclose()
        observer.finish(outcome, SAMPLE_RATE)
