"""Voices and languages: Kokoro's voice names, OpenAI's mapped onto them, and lang_code.

A Kokoro voice name starts with its language letter and gender (`af_heart`: American
English, female). OpenAI's voice names map to the nearest Kokoro voice, so a client written
for OpenAI works unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from tera_serve.errors import ConfigError, InvalidRequestError
from tera_serve.speech.assets import STYLE_DIM, VOICE_BYTES, VOICE_ROWS

OPENAI_VOICES: Mapping[str, str] = MappingProxyType(
    {
        "alloy": "af_alloy",
        "ash": "am_adam",
        "ballad": "bm_lewis",
        "coral": "af_kore",
        "echo": "am_echo",
        "fable": "bm_fable",
        "nova": "af_nova",
        "onyx": "am_onyx",
        "sage": "af_sarah",
        "shimmer": "af_bella",
        "verse": "am_michael",
        "marin": "af_heart",
        "cedar": "am_fenrir",
    }
)
"""OpenAI's voices → Kokoro voices of a similar register."""

LANGUAGES: Mapping[str, str] = MappingProxyType(
    {
        "a": "en-us",
        "b": "en-gb",
        "e": "es",
        "f": "fr-fr",
        "h": "hi",
        "i": "it",
        "j": "ja",
        "p": "pt-br",
        "z": "cmn",
    }
)
"""Kokoro's lang_code letters → espeak-ng language names."""

_LANG_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "en": "a",
        "en-us": "a",
        "en-gb": "b",
        "es": "e",
        "fr": "f",
        "fr-fr": "f",
        "hi": "h",
        "it": "i",
        "ja": "j",
        "pt": "p",
        "pt-br": "p",
        "zh": "z",
        "cmn": "z",
    }
)

Style = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Voice:
    name: str
    styles: Style
    """[510, 256]: one style vector per input length in tokens."""

    @property
    def lang_code(self) -> str:
        return self.name[0]

    def style_for(self, tokens: int) -> Style:
        """The style row Kokoro was trained to use for an input of `tokens` phonemes."""
        row = min(max(tokens, 1), VOICE_ROWS) - 1
        return self.styles[row : row + 1]


@dataclass(frozen=True)
class VoiceChoice:
    voice: Voice
    language: str
    """espeak-ng language of the text."""
    lang_code: str


class VoiceBook:
    """The voices of one model folder, and how a request's `voice`/`lang_code` resolve."""

    def __init__(self, voices: Mapping[str, Voice]) -> None:
        if not voices:
            raise ConfigError("no voices found")
        self._voices = dict(voices)

    @classmethod
    def load(cls, folder: Path) -> VoiceBook:
        voices: dict[str, Voice] = {}
        for path in sorted(folder.glob("*.bin")):
            data = path.read_bytes()
            if len(data) != VOICE_BYTES:
                raise ConfigError(f"voice {path}: {len(data)} bytes, expected {VOICE_BYTES}")
            styles = np.frombuffer(data, dtype="<f4").reshape(VOICE_ROWS, STYLE_DIM)
            voices[path.stem] = Voice(path.stem, styles.astype(np.float32))
        return cls(voices)

    @property
    def names(self) -> list[str]:
        return sorted(self._voices)

    def offered(self) -> list[str]:
        """Every name a request may send: Kokoro's voices, then OpenAI's mapped ones."""
        aliases = [a for a, target in OPENAI_VOICES.items() if target in self._voices]
        return [*self.names, *aliases]

    def choose(self, voice: str, lang_code: str | None) -> VoiceChoice:
        name = OPENAI_VOICES.get(voice, voice)
        found = self._voices.get(name)
        if found is None:
            raise InvalidRequestError(
                f"Unknown voice '{voice}'. Voices: {', '.join(self.offered())}.",
                param="voice",
                code="invalid_voice",
            )
        code = found.lang_code if lang_code is None else normalize_lang_code(lang_code)
        return VoiceChoice(voice=found, language=LANGUAGES[code], lang_code=code)


def normalize_lang_code(value: str) -> str:
    """`a`, `b`, … or a language name (`en-us`, `fr`, …) → Kokoro's letter; 400 otherwise."""
    key = value.strip().lower()
    if key in LANGUAGES:
        return key
    if key in _LANG_ALIASES:
        return _LANG_ALIASES[key]
    choices = ", ".join([*LANGUAGES, *_LANG_ALIASES])
    raise InvalidRequestError(
        f"Unknown lang_code '{value}'. Use one of: {choices}.",
        param="lang_code",
        code="invalid_lang_code",
    )
