"""Text → IPA phonemes through espeak-ng (Kokoro reads phonemes, not letters).

espeak-ng comes from the PyPI wheel `espeakng-loader` (the library and its data, no system
install) and is driven by `phonemizer-fork`. Both are GPL-3.0 and are used as separately
installed libraries, imported only here and only when a speech model loads. The library
keeps global state, so every call goes through one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from tera_serve.errors import ConfigError


class Phonemizer(Protocol):
    def __call__(self, sentences: Sequence[str], language: str) -> list[str]: ...


class EspeakPhonemizer:
    """One espeak-ng backend per language, created on first use."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
            from phonemizer.backend.espeak.wrapper import EspeakWrapper
        except ImportError as exc:
            raise ConfigError(
                "speech needs espeak-ng: pip install espeakng-loader phonemizer-fork"
            ) from exc
        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
        self._lock = threading.Lock()
        self._backends: dict[str, Any] = {}

    def _backend(self, language: str) -> Any:
        backend = self._backends.get(language)
        if backend is None:
            from phonemizer.backend import EspeakBackend

            backend = EspeakBackend(
                language,
                preserve_punctuation=True,
                with_stress=True,
                language_switch="remove-flags",
            )
            self._backends[language] = backend
        return backend

    def __call__(self, sentences: Sequence[str], language: str) -> list[str]:
        if not sentences:
            return []
        with self._lock:
            out = self._backend(language).phonemize(list(sentences), strip=True, njobs=1)
        return [str(p) for p in out]
