"""The speech body (tera_serve/protocol/speech.py): OpenAI's shape plus `lang_code`, and
unlike the text routes, an unknown field is refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tera_serve.protocol.speech import MAX_INPUT_CHARS, SpeechRequest


def speech(**fields: Any) -> SpeechRequest:
    body = {"model": "hexgrad/Kokoro-82M", "voice": "af_heart", "input": "Hello.", **fields}
    return SpeechRequest.model_validate(body)


def test_defaults_are_tera_s() -> None:
    request = speech()
    assert (request.response_format, request.speed, request.stream_format) == ("wav", 1.0, "audio")
    assert request.lang_code is None and request.instructions is None


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"colour": "warm"}, ("colour",)),  # a misspelt option must not pass silently
        ({"input": "   "}, ("input",)),
        ({"input": "a" * (MAX_INPUT_CHARS + 1)}, ("input",)),
        ({"voice": ""}, ("voice",)),
        ({"speed": 0.2}, ("speed",)),
        ({"speed": 4.5}, ("speed",)),
        ({"response_format": "ogg"}, ("response_format",)),
        ({"stream_format": "chunks"}, ("stream_format",)),
        ({"lang_code": "x" * 17}, ("lang_code",)),
        ({"instructions": "a" * (MAX_INPUT_CHARS + 1)}, ("instructions",)),
    ],
)
def test_bad_fields_are_refused(fields: dict[str, Any], loc: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as failure:
        speech(**fields)
    assert failure.value.errors()[0]["loc"] == loc


def test_the_longest_input_and_every_format_are_taken() -> None:
    assert len(speech(input="a" * MAX_INPUT_CHARS).input) == MAX_INPUT_CHARS
    for fmt in ("wav", "mp3", "flac", "opus", "aac", "pcm"):
        assert speech(response_format=fmt, stream_format="sse").response_format == fmt
