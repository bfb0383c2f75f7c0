"""Two independent decoders for the speech formats: libsndfile (soundfile) and FFmpeg (PyAV).

Each reads to the end of the bytes (not trusting a header's length) and gives the number of
samples and their rate. libsndfile reads no ADTS (`aac`); pcm is raw 16-bit 24 kHz mono.
"""

from __future__ import annotations

import io
from typing import Any

import av
import soundfile as sf

PCM_RATE = 24_000
SOUNDFILE_FORMATS = frozenset({"wav", "mp3", "flac", "opus", "pcm"})


def soundfile_samples(fmt: str, data: bytes) -> tuple[int, int]:
    """(samples read, rate) through libsndfile; a lossless file's header count must agree."""
    raw: dict[str, Any] = {}
    if fmt == "pcm":
        raw = {"format": "RAW", "subtype": "PCM_16", "samplerate": PCM_RATE, "channels": 1}
        raw["endian"] = "LITTLE"
    with sf.SoundFile(io.BytesIO(data), **raw) as audio:
        read = sum(len(block) for block in audio.blocks(8192))
        if fmt in ("wav", "flac", "pcm") and audio.frames != read:
            raise AssertionError(f"{fmt}: the header says {audio.frames} frames, {read} read")
        return read, audio.samplerate


def pyav_samples(fmt: str, data: bytes) -> tuple[int, int]:
    """(samples decoded, rate) through FFmpeg (Opus always decodes at 48 kHz)."""
    raw: dict[str, Any] = {}
    if fmt == "pcm":
        raw = {"format": "s16le", "options": {"sample_rate": str(PCM_RATE), "ch_layout": "mono"}}
    with av.open(io.BytesIO(data), **raw) as container:
        samples, rate = 0, 0
        for frame in container.decode(audio=0):
            samples, rate = samples + frame.samples, frame.sample_rate
    return samples, rate


def flac_total_samples(data: bytes) -> int:
    """STREAMINFO's 36-bit total sample count (0: unknown)."""
    if data[:4] != b"fLaC" or data[4] & 0x7F != 0:
        raise AssertionError("not a FLAC stream that starts with its STREAMINFO")
    return int.from_bytes(data[18:26], "big") & ((1 << 36) - 1)
