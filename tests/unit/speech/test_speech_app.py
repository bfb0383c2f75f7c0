"""POST /v1/audio/speech in-process, on the real Kokoro-82M, beside a (fake-engine) chat model:
validation errors, the catalog, text/speech model mix-ups, SSE, limits and metrics."""

from __future__ import annotations

import base64
import contextlib
import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.engine.fake import FakeEngine
from tera_serve.http.app import create_app
from tera_serve.http.context import ServerContext
from tera_serve.http.startup import load_models
from tera_serve.speech.assets import KOKORO_MODEL_ID, KOKORO_MODEL_REF, ensure_kokoro
from tera_serve.speech.encoders import FORMATS
from tera_serve.speech.engine import KokoroEngine
from tests.support.audio import (
    SOUNDFILE_FORMATS,
    flac_total_samples,
    pyav_samples,
    soundfile_samples,
)
from tests.support.fake_app import FAKE_MODEL_ID, scripted_text
from tests.unit.security.support import bearer, is_contract_error, make_keys_file

SPEECH = ModelConfig(
    model=KOKORO_MODEL_REF, task="speech", served_model_name=KOKORO_MODEL_ID, aliases=("tts-1",)
)


@pytest.fixture(scope="module")
def kokoro() -> Iterator[KokoroEngine]:
    engine = KokoroEngine.start(ensure_kokoro(), {"workers": 1}, "test")
    yield engine


@contextlib.asynccontextmanager
async def speech_app(
    smollm_dir: Path, kokoro: KokoroEngine, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, ServerContext]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(smollm_dir))
    chat = FakeEngine(
        tokenizer, scripted_text(tokenizer, "hi"), eos_token_id=tokenizer.eos_token_id
    )
    models = (ModelConfig(model=str(smollm_dir), served_model_name=FAKE_MODEL_ID), SPEECH)
    context = ServerContext(
        config=ServerConfig(models=models, **overrides), engine_factory=lambda *_: chat
    )
    context.speech.engine_factory = lambda _config: kokoro
    app = create_app(context)
    await load_models(context)
    await context.speech.load_all(lambda _model: None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client, context


def _speech(**fields: Any) -> dict[str, Any]:
    return {"model": KOKORO_MODEL_ID, "input": "Hi there.", "voice": "af_heart", **fields}


async def test_catalog_lists_speech_and_chat_models(smollm_dir: Path, kokoro: KokoroEngine) -> None:
    async with speech_app(smollm_dir, kokoro) as (client, _):
        cards = {c["id"]: c for c in (await client.get("/v1/models")).json()["data"]}
        assert cards[KOKORO_MODEL_ID]["output_modalities"] == ["audio"]
        assert cards["tts-1"]["output_modalities"] == ["audio"]
        assert cards[FAKE_MODEL_ID]["output_modalities"] == ["text"]
        assert (
            "af_heart" in cards[KOKORO_MODEL_ID]["voices"]
            and "alloy" in cards[KOKORO_MODEL_ID]["voices"]
        )
        one = (await client.get(f"/v1/models/{KOKORO_MODEL_ID}")).json()
        assert one["id"] == KOKORO_MODEL_ID and one["sample_rate"] == 24_000
        health = (await client.get("/health")).json()
        assert health["status"] == "ok"
        assert health["models"] == {FAKE_MODEL_ID: "ready", KOKORO_MODEL_ID: "ready"}


async def test_wav_by_default_with_instructions_noted(
    smollm_dir: Path, kokoro: KokoroEngine
) -> None:
    async with speech_app(smollm_dir, kokoro) as (client, _):
        response = await client.post(
            "/v1/audio/speech", json=_speech(voice="alloy", instructions="cheerful")
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/wav"
        assert response.headers["x-tera-ignored"] == "instructions"
        audio, rate = sf.read(io.BytesIO(response.content))
        assert rate == 24_000 and len(audio) / rate > 0.3


async def test_sse_sends_audio_deltas_then_done(smollm_dir: Path, kokoro: KokoroEngine) -> None:
    async with speech_app(smollm_dir, kokoro) as (client, _):
        response = await client.post(
            "/v1/audio/speech",
            json=_speech(input="One. Two.", stream_format="sse", response_format="pcm"),
        )
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
        ]
        assert [e["type"] for e in events] == [
            "speech.audio.delta",
            "speech.audio.delta",
            "speech.audio.done",
        ]
        pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
        assert len(pcm) > 24_000  # two short sentences: well over half a second of 16-bit audio
        assert events[-1]["usage"]["input_tokens"] == len("One. Two.")


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"input": ""}, "input", "text to speak"),
        ({"input": "   "}, "input", "text to speak"),
        ({"input": "x" * 4097}, "input", "4096"),
        ({"input": "... !!! (?)"}, "input", "nothing to speak"),
        ({"voice": "darth"}, "voice", "af_heart"),
        ({"response_format": "ogg"}, "response_format", "mp3"),
        ({"speed": 0.1}, "speed", "0.25"),
        ({"speed": 4.5}, "speed", "4"),
        ({"stream_format": "chunks"}, "stream_format", "sse"),
        ({"lang_code": "klingon"}, "lang_code", "en-gb"),
        ({"temperature": 0.5}, "temperature", "not permitted"),
    ],
)
async def test_bad_requests_are_400s(
    smollm_dir: Path, kokoro: KokoroEngine, fields: dict[str, Any], param: str, words: str
) -> None:
    async with speech_app(smollm_dir, kokoro) as (client, _):
        response = await client.post("/v1/audio/speech", json=_speech(**fields))
        assert response.status_code == 400, response.text[:300]
        body = response.json()
        assert is_contract_error(body)
        assert body["error"]["param"] == param
        assert words in body["error"]["message"]


async def test_text_and_speech_models_are_not_interchangeable(
    smollm_dir: Path, kokoro: KokoroEngine
) -> None:
    async with speech_app(smollm_dir, kokoro) as (client, _):
        chat = await client.post(
            "/v1/chat/completions",
            json={"model": KOKORO_MODEL_ID, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert chat.status_code == 400 and chat.json()["error"]["code"] == "model_not_supported"
        speech = await client.post("/v1/audio/speech", json=_speech(model=FAKE_MODEL_ID))
        assert speech.status_code == 400 and speech.json()["error"]["code"] == "model_not_supported"
        unknown = await client.post("/v1/audio/speech", json=_speech(model="nope/tts"))
        assert unknown.status_code == 404


async def test_keys_scope_and_characters_count_as_tokens(
    smollm_dir: Path, kokoro: KokoroEngine, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.yaml"
    secrets = make_keys_file(
        keys,
        {
            "chatter": {"models": (FAKE_MODEL_ID,)},
            "speaker": {"models": (KOKORO_MODEL_ID,), "tpm": 20},
        },
    )
    async with speech_app(smollm_dir, kokoro, keys_file=str(keys)) as (client, _):
        refused = await client.post(
            "/v1/audio/speech", json=_speech(), headers=bearer(secrets["chatter"])
        )
        assert refused.status_code == 403
        listed = (await client.get("/v1/models", headers=bearer(secrets["chatter"]))).json()["data"]
        assert [c["id"] for c in listed] == [FAKE_MODEL_ID]
        speaker = bearer(secrets["speaker"])
        first = await client.post(
            "/v1/audio/speech", json=_speech(input="Twenty-one characters"), headers=speaker
        )
        assert first.status_code == 200
        assert first.headers["x-ratelimit-remaining-tokens"] == "0"
        second = await client.post("/v1/audio/speech", json=_speech(), headers=speaker)
        assert second.status_code == 429 and second.json()["error"]["code"] == "tpm_limit_exceeded"


async def test_metrics_count_audio_and_real_time_factor(
    smollm_dir: Path, kokoro: KokoroEngine
) -> None:
    async with speech_app(smollm_dir, kokoro) as (client, _):
        assert (
            await client.post("/v1/audio/speech", json=_speech(response_format="mp3"))
        ).status_code == 200
        text = (await client.get("/metrics")).text
        lines = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in text.splitlines()
            if line.startswith("tera_")
        }
        label = f'{{model="{KOKORO_MODEL_ID}"}}'
        assert lines[f"tera_speech_audio_seconds_total{label}"] > 0.3
        assert lines[f"tera_speech_real_time_factor_count{label}"] == 1
        assert lines[f"tera_speech_input_characters_total{label}"] == len("Hi there.")
        assert lines[f"tera_speech_time_to_first_audio_seconds_count{label}"] == 1


async def test_a_timeout_after_the_first_byte_ends_sse_with_an_error(
    smollm_dir: Path, kokoro: KokoroEngine
) -> None:
    async with speech_app(smollm_dir, kokoro, request_timeout_s=0.05) as (client, _):
        long_text = " ".join(f"Sentence {n} is here to take a while." for n in range(20))
        response = await client.post(
            "/v1/audio/speech", json=_speech(input=long_text, stream_format="sse")
        )
        assert response.status_code == 200
        events = [
            json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
        ]
        assert events[-1]["type"] == "error"
        assert events[-1]["error"]["code"] == "timeout"
        assert "speech.audio.done" not in [e["type"] for e in events]
        metrics = (await client.get("/metrics")).text
        assert f'tera_speech_requests_running{{model="{KOKORO_MODEL_ID}"}} 0.0' in metrics
        assert f'tera_aborts_total{{model="{KOKORO_MODEL_ID}",reason="timeout"}} 1.0' in metrics


def _audio_seconds_total(metrics: str) -> float:
    prefix = f'tera_speech_audio_seconds_total{{model="{KOKORO_MODEL_ID}"}} '
    return sum(
        float(line[len(prefix) :]) for line in metrics.splitlines() if line.startswith(prefix)
    )


async def test_every_format_decodes_to_the_audio_synthesized(
    smollm_dir: Path, kokoro: KokoroEngine
) -> None:
    """Each format as `audio` and as `sse` (the deltas joined): PyAV, and soundfile where
    libsndfile reads the format, decode it to the seconds the engine synthesized. An `audio`
    FLAC comes whole with its total in STREAMINFO; an `sse` one says "unknown" (PyAV still
    reads every frame; libsndfile cannot, so it is not asked)."""
    async with speech_app(smollm_dir, kokoro) as (client, _):
        for fmt in FORMATS:
            for stream_format in ("audio", "sse"):
                before = _audio_seconds_total((await client.get("/metrics")).text)
                response = await client.post(
                    "/v1/audio/speech",
                    json=_speech(
                        input="One. Two.", response_format=fmt, stream_format=stream_format
                    ),
                )
                assert response.status_code == 200, response.text[:200]
                synthesized = _audio_seconds_total((await client.get("/metrics")).text) - before
                data = response.content
                if stream_format == "sse":
                    data = b"".join(
                        base64.b64decode(json.loads(line[6:]).get("audio", ""))
                        for line in response.text.splitlines()
                        if line.startswith("data: ")
                    )
                case = (fmt, stream_format)
                slack = 0.1 if fmt in ("mp3", "aac", "opus") else 0.5 / 24_000
                decoders = [pyav_samples]
                if fmt in SOUNDFILE_FORMATS and case != ("flac", "sse"):
                    decoders.append(soundfile_samples)
                for decode in decoders:
                    samples, rate = decode(fmt, data)
                    assert synthesized - 0.5 / 24_000 <= samples / rate, (case, decode)
                    assert samples / rate <= synthesized + slack, (case, decode)
                if fmt == "flac":
                    total = flac_total_samples(data)
                    assert total == (round(synthesized * 24_000) if stream_format == "audio" else 0)
