"""Each response format: streamed chunk by chunk, and decodable to the audio that went in."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
import soundfile as sf

from tera_serve.speech.encoders import CONTENT_TYPES, FORMATS, new_encoder, wav_header

RATE = 24_000


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _encode(fmt: str, pieces: list[np.ndarray]) -> tuple[list[bytes], bytes]:
    encoder = new_encoder(fmt, RATE)
    parts = [encoder.encode(p) for p in pieces]
    return parts, b"".join(parts) + encoder.finish()


def _decoded_seconds(fmt: str, data: bytes) -> tuple[float, int]:
    if fmt == "pcm":
        return len(data) / 2 / RATE, RATE
    if fmt in ("wav", "mp3", "opus"):
        audio, rate = sf.read(io.BytesIO(data))
        return len(audio) / rate, rate
    container = av.open(io.BytesIO(data))
    samples, rate = 0, 0
    for frame in container.decode(audio=0):
        samples, rate = samples + frame.samples, frame.sample_rate
    return samples / rate, rate


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_decodes_to_the_duration_sent(fmt: str) -> None:
    parts, data = _encode(fmt, [_tone(1.0), _tone(1.5)])
    seconds, rate = _decoded_seconds(fmt, data)
    assert rate == RATE
    assert seconds == pytest.approx(2.5, abs=0.1)
    # Bytes come out while encoding, not only at the end.
    assert parts[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_longer_audio_gives_longer_decoded_audio(fmt: str) -> None:
    short = _decoded_seconds(fmt, _encode(fmt, [_tone(0.5)])[1])[0]
    long = _decoded_seconds(fmt, _encode(fmt, [_tone(0.5)] * 4)[1])[0]
    assert long > 3 * short


def test_pcm_is_raw_16_bit_little_endian() -> None:
    _, data = _encode("pcm", [np.array([0.0, 1.0, -1.0, 2.0], np.float32)])
    assert np.frombuffer(data, "<i2").tolist() == [0, 32767, -32767, 32767]


def test_wav_header_announces_an_open_length_when_streaming() -> None:
    header = wav_header(RATE)
    assert header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt " and len(header) == 44
    assert header[40:44] == b"\xff\xff\xff\xff"
    sized = wav_header(RATE, 100)
    assert int.from_bytes(sized[40:44], "little") == 100
    assert int.from_bytes(sized[4:8], "little") == 136


def test_an_empty_stream_is_still_a_valid_header() -> None:
    encoder = new_encoder("wav", RATE)
    assert encoder.finish()[:4] == b"RIFF"


def test_content_types() -> None:
    assert CONTENT_TYPES["mp3"] == "audio/mpeg" and CONTENT_TYPES["wav"] == "audio/wav"
    assert set(CONTENT_TYPES) == {"wav", "mp3", "flac", "opus", "aac", "pcm"}
