"""Each format, streamed (the chunks as sent, joined) and whole: two independent decoders,
libsndfile (soundfile) and FFmpeg (PyAV), read it back to the length that went in."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from tera_serve.speech.encoders import FORMATS, WHOLE_FORMATS, Samples, new_encoder
from tests.support.audio import (
    SOUNDFILE_FORMATS,
    flac_total_samples,
    pyav_samples,
    soundfile_samples,
)

RATE = 24_000
N = 2 * RATE + 1234  # not a whole number of any codec's frames
LOSSLESS = {"pcm", "wav", "flac"}
LOSSY_SLACK = 2400
"""Samples a lossy stream may decode to beyond its input (0.1 s): the encoder's delay and
the padding of its last frame, which only a whole mp3 (its LAME tag) tells decoders to trim."""
MODES = ("streamed", "whole")


def _signal() -> Samples:
    t = np.arange(N) / RATE
    signal: Samples = (0.3 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 3 * t)).astype(
        np.float32
    )
    return signal


def _encode(fmt: str, mode: str) -> tuple[list[bytes], bytes]:
    """The bytes given after each of three uneven pieces, and the whole output."""
    signal = _signal()
    encoder = new_encoder(fmt, RATE, whole=mode == "whole")
    parts = [encoder.encode(piece) for piece in (signal[:5000], signal[5000:30001], signal[30001:])]
    return parts, b"".join(parts) + encoder.finish()


def _soundfile_seconds(fmt: str, data: bytes) -> float:
    samples, rate = soundfile_samples(fmt, data)
    assert rate == RATE
    return samples / rate


def _pyav_seconds(fmt: str, data: bytes) -> float:
    samples, rate = pyav_samples(fmt, data)
    assert rate == (48_000 if fmt == "opus" else RATE)
    return samples / rate


def _assert_length(fmt: str, mode: str, seconds: float) -> None:
    exact = fmt in LOSSLESS or (fmt == "mp3" and mode == "whole")
    if exact:
        assert seconds == pytest.approx(N / RATE, abs=0.5 / RATE)
    else:
        assert N / RATE - 0.5 / RATE <= seconds <= (N + LOSSY_SLACK) / RATE


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_pyav_decodes_every_format_to_its_length(fmt: str, mode: str) -> None:
    _assert_length(fmt, mode, _pyav_seconds(fmt, _encode(fmt, mode)[1]))


# libsndfile reads no ADTS (aac), nor a FLAC without its total (the streamed one, below).
SOUNDFILE_CASES = [
    (fmt, mode)
    for fmt in FORMATS
    for mode in MODES
    if fmt in SOUNDFILE_FORMATS and (fmt, mode) != ("flac", "streamed")
]


@pytest.mark.parametrize(("fmt", "mode"), SOUNDFILE_CASES)
def test_soundfile_decodes_every_format_to_its_length(fmt: str, mode: str) -> None:
    _assert_length(fmt, mode, _soundfile_seconds(fmt, _encode(fmt, mode)[1]))


def test_whole_flac_carries_its_length() -> None:
    data = _encode("flac", "whole")[1]
    assert flac_total_samples(data) == N
    assert int.from_bytes(data[18:21], "big") >> 4 == RATE  # the field before it, to be sure
    assert sf.info(io.BytesIO(data)).frames == N
    audio, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == RATE and audio.shape == (N,)
    assert np.abs(audio - _signal()).max() < 2 / 32768  # lossless, to 16 bits


def test_streamed_flac_says_unknown_and_all_its_frames_decode() -> None:
    """A stream cannot know its total when it sends STREAMINFO: 0 is the format's "unknown",
    and FFmpeg then reads every frame; libsndfile cannot (why `audio` FLAC is sent whole)."""
    data = _encode("flac", "streamed")[1]
    assert flac_total_samples(data) == 0
    assert _pyav_seconds("flac", data) == N / RATE
    assert "flac" in WHOLE_FORMATS


def test_whole_wav_has_real_sizes_and_streamed_wav_an_open_one() -> None:
    whole = _encode("wav", "whole")[1]
    assert int.from_bytes(whole[40:44], "little") == 2 * N == len(whole) - 44
    assert int.from_bytes(whole[4:8], "little") == len(whole) - 8
    streamed = _encode("wav", "streamed")[1]
    assert streamed[40:44] == b"\xff\xff\xff\xff" and streamed[44:] == whole[44:]


@pytest.mark.parametrize("fmt", FORMATS)
def test_whole_gives_bytes_only_at_the_end_and_streamed_as_it_goes(fmt: str) -> None:
    streamed, _ = _encode(fmt, "streamed")
    assert any(streamed)
    whole, _ = _encode(fmt, "whole")
    if fmt == "pcm":
        assert whole == streamed  # no header to complete: the same bytes as they come
    else:
        assert not any(whole)
