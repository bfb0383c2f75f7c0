"""POST /v1/audio/speech: OpenAI's request shape plus Tera's `lang_code`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_INPUT_CHARS = 4096

ResponseFormat = Literal["wav", "mp3", "flac", "opus", "aac", "pcm"]


class SpeechRequest(BaseModel):
    """Unknown fields are refused (400): a misspelt option must not pass silently."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, Field(min_length=1)]
    input: Annotated[str, Field(max_length=MAX_INPUT_CHARS)]
    """The text to speak, at most 4,096 characters."""
    voice: Annotated[str, Field(min_length=1)]
    """A Kokoro voice (`af_heart`, …) or an OpenAI one (`alloy`, `echo`, …)."""
    response_format: ResponseFormat = "wav"
    """Tera's default is wav (OpenAI's is mp3)."""
    speed: Annotated[float, Field(ge=0.25, le=4.0)] = 1.0
    instructions: Annotated[str, Field(max_length=MAX_INPUT_CHARS)] | None = None
    """Accepted for OpenAI clients; Kokoro has no style prompt, so it is not applied (the
    response says so in its `X-Tera-Ignored` header)."""
    stream_format: Literal["audio", "sse"] = "audio"
    """`audio`: the audio bytes, streamed as they are made; `sse`: `speech.audio.delta`
    events with base64 audio, then `speech.audio.done`."""
    lang_code: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    """Kokoro's language letter (`a` American English, `b` British, `e`, `f`, `h`, `i`,
    `j`, `p`, `z`) or a language name (`en-us`, `fr`, …); default: the voice's."""

    @field_validator("input")
    @classmethod
    def _input_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("input must contain text to speak")
        return value
