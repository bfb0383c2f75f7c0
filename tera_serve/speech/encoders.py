"""Streaming audio encoders: float samples in, bytes of the response format out, chunk by chunk.

Every format is written so that its bytes can go to the client as they are made: `pcm` is
raw 16-bit little-endian samples; `wav` is that behind a header whose sizes say "unknown
length" (as streaming servers send it; decoders read to the end); `mp3`, `flac`, `opus` (in
Ogg) and `aac` (ADTS frames) come from FFmpeg's encoders through PyAV.

An encoder made `whole` gives every byte at `finish()`, its header with the real length:
the sizes of a wav; FLAC's STREAMINFO total sample count (and MD5); mp3's Xing/LAME frame
(frame count, encoder delay and padding, so decoders trim to the exact length). FFmpeg's
muxers write those by seeking back at the end, which a stream of chunks cannot do. A
streamed FLAC says "total unknown", which the format allows but libsndfile cannot read
(it reports ~10^11 hours): so an `audio` response sends FLAC whole (`WHOLE_FORMATS`).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]

CONTENT_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "wav": "audio/wav",
        "mp3": "audio/mpeg",
        "flac": "audio/flac",
        "opus": "audio/ogg",
        "aac": "audio/aac",
        "pcm": "audio/pcm",
    }
)
"""What each response_format is sent as (`Content-Type`)."""
FORMATS = tuple(CONTENT_TYPES)
WHOLE_FORMATS: frozenset[str] = frozenset({"flac"})
"""Formats an `audio` response sends whole: the rest decode to their length from a stream."""

_UNKNOWN_SIZE = 0xFFFFFFFF
# (container, codec, sample format, bit rate)
_AV_FORMATS: Mapping[str, tuple[str, str, str, int | None]] = MappingProxyType(
    {
        "mp3": ("mp3", "libmp3lame", "fltp", 64_000),
        "flac": ("flac", "flac", "s16", None),
        "opus": ("ogg", "libopus", "flt", 32_000),
        "aac": ("adts", "aac", "fltp", 64_000),
    }
)


class AudioEncoder(Protocol):
    content_type: str

    def encode(self, samples: Samples) -> bytes:
        """The bytes ready after `samples` (may be empty while the encoder buffers)."""
        ...

    def finish(self) -> bytes:
        """The rest: buffered frames and any trailer."""
        ...


def to_pcm16(samples: Samples) -> bytes:
    clipped = np.clip(samples, -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


class PcmEncoder:
    content_type = CONTENT_TYPES["pcm"]

    def encode(self, samples: Samples) -> bytes:
        return to_pcm16(samples)

    def finish(self) -> bytes:
        return b""


def wav_header(sample_rate: int, data_bytes: int = _UNKNOWN_SIZE) -> bytes:
    """A 44-byte PCM WAVE header (16-bit mono); the default sizes mean "until the end"."""
    riff_size = _UNKNOWN_SIZE if data_bytes == _UNKNOWN_SIZE else 36 + data_bytes
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class WavEncoder:
    content_type = CONTENT_TYPES["wav"]

    def __init__(self, sample_rate: int, whole: bool = False) -> None:
        self._sample_rate = sample_rate
        self._header: bytes | None = None if whole else wav_header(sample_rate)
        self._data: bytearray | None = bytearray() if whole else None

    def encode(self, samples: Samples) -> bytes:
        if self._data is not None:
            self._data += to_pcm16(samples)
            return b""
        header, self._header = self._header or b"", None
        return header + to_pcm16(samples)

    def finish(self) -> bytes:
        if self._data is not None:
            data, self._data = bytes(self._data), bytearray()
            return wav_header(self._sample_rate, len(data)) + data
        header, self._header = self._header or b"", None
        return header


class _Sink:
    """A write-only file for FFmpeg's muxer; what it wrote is taken after each step."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        out = bytes(self._buffer)
        self._buffer.clear()
        return out


class AvEncoder:
    """mp3, flac, opus or aac through PyAV (FFmpeg), muxed into a streamable container (or,
    `whole`, into one file whose header the muxer completes at the end)."""

    def __init__(self, response_format: str, sample_rate: int, whole: bool = False) -> None:
        import av

        container_format, codec, sample_format, bit_rate = _AV_FORMATS[response_format]
        self.content_type = CONTENT_TYPES[response_format]
        self._sample_rate = sample_rate
        self._sample_format = sample_format
        self._sink = _Sink()
        # Whole: a seekable file, so the muxer rewrites the header when it closes.
        self._whole: io.BytesIO | None = io.BytesIO() if whole else None
        output = self._sink if self._whole is None else self._whole
        self._container: Any = av.open(output, mode="w", format=container_format)
        stream: Any = self._container.add_stream(codec, rate=sample_rate, layout="mono")
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        self._stream = stream
        self._pts = 0
        self._closed = False

    def _frame(self, samples: Samples) -> Any:
        import av

        if self._sample_format == "s16":
            array: Any = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)[None, :]
        else:
            array = np.ascontiguousarray(samples, dtype=np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(array, format=self._sample_format, layout="mono")
        frame.sample_rate = self._sample_rate
        frame.pts = self._pts
        frame.time_base = Fraction(1, self._sample_rate)
        self._pts += samples.shape[0]
        return frame

    def encode(self, samples: Samples) -> bytes:
        if samples.size:
            for packet in self._stream.encode(self._frame(samples)):
                self._container.mux(packet)
        return self._sink.take()

    def finish(self) -> bytes:
        if not self._closed:
            self._closed = True
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            if self._whole is not None:
                return self._whole.getvalue()
        return self._sink.take()


def new_encoder(response_format: str, sample_rate: int, whole: bool = False) -> AudioEncoder:
    """The encoder of a format; `whole`: all bytes at `finish()`, headers with real lengths
    (pcm has no header: the same bytes either way)."""
    if response_format == "pcm":
        return PcmEncoder()
    if response_format == "wav":
        return WavEncoder(sample_rate, whole)
    return AvEncoder(response_format, sample_rate, whole)
