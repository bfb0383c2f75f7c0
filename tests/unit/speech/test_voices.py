"""Voice names: Kokoro's, OpenAI's mapped onto them, lang_code, and the style row per length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tera_serve.errors import ConfigError, InvalidRequestError
from tera_serve.speech.assets import STYLE_DIM, VOICE_ROWS
from tera_serve.speech.voices import OPENAI_VOICES, Voice, VoiceBook, normalize_lang_code


def _voice(name: str) -> Voice:
    rows = np.arange(VOICE_ROWS, dtype=np.float32)[:, None] * np.ones(STYLE_DIM, np.float32)
    return Voice(name, rows)


BOOK = VoiceBook({n: _voice(n) for n in ("af_heart", "af_alloy", "am_echo", "bf_emma", "ff_siwis")})


def test_kokoro_voice_names_resolve_with_their_language() -> None:
    choice = BOOK.choose("bf_emma", None)
    assert (choice.voice.name, choice.lang_code, choice.language) == ("bf_emma", "b", "en-gb")
    assert BOOK.choose("ff_siwis", None).language == "fr-fr"


def test_openai_voice_names_map_to_kokoro_voices() -> None:
    assert BOOK.choose("alloy", None).voice.name == "af_alloy"
    assert BOOK.choose("echo", None).voice.name == "am_echo"
    assert set(OPENAI_VOICES) >= {"alloy", "echo", "fable", "onyx", "nova", "shimmer"}


def test_unknown_voice_is_a_400_listing_the_voices() -> None:
    with pytest.raises(InvalidRequestError) as info:
        BOOK.choose("darth", None)
    assert info.value.param == "voice"
    assert "af_heart" in info.value.message and "alloy" in info.value.message
    # An alias whose target voice is missing is not offered.
    assert "onyx" not in info.value.message


def test_lang_code_overrides_the_voice_language() -> None:
    assert BOOK.choose("af_heart", "b").language == "en-gb"
    assert BOOK.choose("af_heart", "FR").lang_code == "f"
    assert normalize_lang_code("pt-br") == "p"
    with pytest.raises(InvalidRequestError) as info:
        BOOK.choose("af_heart", "klingon")
    assert info.value.param == "lang_code"


def test_style_row_follows_the_token_count() -> None:
    voice = _voice("af_heart")
    assert voice.style_for(1)[0, 0] == 0
    assert voice.style_for(100)[0, 0] == 99
    assert voice.style_for(10_000)[0, 0] == VOICE_ROWS - 1
    assert voice.style_for(5).shape == (1, STYLE_DIM)


def test_voice_files_load_and_bad_sizes_are_refused(tmp_path: Path) -> None:
    styles = np.random.default_rng(0).random((VOICE_ROWS, STYLE_DIM), dtype=np.float32)
    (tmp_path / "af_test.bin").write_bytes(styles.astype("<f4").tobytes())
    book = VoiceBook.load(tmp_path)
    assert book.names == ["af_test"]
    assert np.array_equal(book.choose("af_test", None).voice.styles, styles)
    (tmp_path / "af_bad.bin").write_bytes(b"\0" * 10)
    with pytest.raises(ConfigError, match="af_bad"):
        VoiceBook.load(tmp_path)
