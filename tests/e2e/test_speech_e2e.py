"""Speech through the real process: `tera-serve` with no --model serves Kokoro-82M beside
SmolLM2; the OpenAI SDK asks for audio, soundfile/PyAV decode it, Whisper listens to it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import av
import httpx
import numpy as np
import openai
import pytest
import soundfile as sf

from tests.e2e.conftest import DEFAULT_MODEL
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

KOKORO = "hexgrad/Kokoro-82M"
RATE = 24_000
SHORT = "Hello there."
LONGER = "Hello there. The weather is lovely today, and the birds are singing."
STORY = " ".join(
    f"Sentence number {n} of this story tells of a knight, a dragon and a quiet village."
    for n in range(1, 5)
)


@pytest.fixture(scope="module")
def client(default_server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=default_server.v1, api_key="unused", max_retries=0, timeout=120)


def decode(data: bytes, fmt: str) -> tuple[np.ndarray, int]:
    """Samples and rate: soundfile for what libsndfile reads whole, PyAV for flac/aac."""
    if fmt == "pcm":
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768, RATE
    if fmt in ("wav", "mp3", "opus"):
        samples, rate = sf.read(io.BytesIO(data), dtype="float32")
        return samples, rate
    container = av.open(io.BytesIO(data))
    frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    rate = container.streams.audio[0].codec_context.sample_rate
    return np.concatenate(frames), rate


def speak(client: openai.OpenAI, text: str, fmt: str = "wav", **extra: object) -> float:
    audio = client.audio.speech.create(
        model=KOKORO,
        voice="af_heart",
        input=text,
        response_format=fmt,
        **extra,  # type: ignore[arg-type]
    )
    samples, rate = decode(audio.content, fmt)
    assert rate == RATE
    return len(samples) / rate


def test_the_catalog_lists_kokoro_beside_smollm2(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list().data}
    # The default setup: chat, speech, and the embedding model (test_embeddings_e2e.py).
    assert set(models) == {DEFAULT_MODEL, KOKORO, "sentence-transformers/all-MiniLM-L6-v2"}
    assert models[KOKORO].model_extra is not None
    assert models[KOKORO].model_extra["output_modalities"] == ["audio"]


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "opus", "aac", "pcm"])
def test_each_format_decodes_and_grows_with_the_input(client: openai.OpenAI, fmt: str) -> None:
    short, longer = speak(client, SHORT, fmt), speak(client, LONGER, fmt)
    assert 0.3 < short < longer
    assert longer > 2 * short


def test_speed_two_about_halves_the_duration(client: openai.OpenAI) -> None:
    normal, fast = speak(client, LONGER, "pcm"), speak(client, LONGER, "pcm", speed=2.0)
    assert 0.4 < fast / normal < 0.65


def test_streaming_delivers_audio_before_synthesis_ends(
    client: openai.OpenAI, default_server: LiveServer
) -> None:
    running = re.compile(
        r'^tera_speech_requests_running\{model="hexgrad/Kokoro-82M"\} (\S+)$', re.M
    )
    chunks: list[bytes] = []
    still_running = None
    with client.audio.speech.with_streaming_response.create(
        model=KOKORO, voice="am_echo", input=STORY, response_format="pcm"
    ) as response:
        assert response.headers["content-type"] == "audio/pcm"
        for chunk in response.iter_bytes():
            if not chunks:
                # The first audio is here: the server is still working on the rest.
                metrics = httpx.get(default_server.base_url + "/metrics", timeout=10).text
                still_running = float(running.findall(metrics)[0])
            chunks.append(chunk)
    assert still_running == 1.0
    total = sum(len(c) for c in chunks)
    assert len(chunks[0]) < total / 3
    assert total / 2 / RATE > 10  # four sentences of speech


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"input": ""}, "input"),
        ({"input": "word " * 1000}, "input"),
        ({"voice": "darth_vader"}, "voice"),
        ({"response_format": "ogg"}, "response_format"),
    ],
)
def test_bad_requests_are_400s(client: openai.OpenAI, fields: dict[str, str], param: str) -> None:
    body = {"model": KOKORO, "voice": "alloy", "input": SHORT, **fields}
    with pytest.raises(openai.BadRequestError) as info:
        client.audio.speech.create(**body)  # type: ignore[arg-type]
    assert info.value.body["param"] == param  # type: ignore[index]


def test_text_and_speech_models_are_not_interchangeable(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=KOKORO, messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model=DEFAULT_MODEL, voice="alloy", input=SHORT)


def test_the_speech_is_speech(client: openai.OpenAI, tmp_path: Path) -> None:
    """Whisper base (offline, from its PyPI parts) hears the sentence's words."""
    from faster_whisper import WhisperModel

    from tests.fixtures.whisper import build_whisper_base

    audio = client.audio.speech.create(
        model=KOKORO, voice="alloy", input="The capital of France is Paris.", response_format="wav"
    )
    path = tmp_path / "speech.wav"
    path.write_bytes(audio.content)
    model = WhisperModel(
        str(build_whisper_base()), device="cpu", compute_type="int8", cpu_threads=2
    )
    segments, _ = model.transcribe(str(path), language="en", beam_size=1)
    heard = " ".join(s.text for s in segments).lower()
    assert "capital" in heard and "france" in heard and "paris" in heard, heard
