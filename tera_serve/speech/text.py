"""Text → sentences → phoneme chunks that fit Kokoro's token window.

Kokoro reads at most 512 tokens, two of them the pads, so a chunk holds at most 510
phonemes. Each sentence is synthesized on its own (a stream's first audio is one sentence
away); a sentence whose phonemes overflow the window is split at word boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from tera_serve.speech.vocab import PAD_ID, VOCAB

MAX_PHONEMES = 510
_SILENT = frozenset(VOCAB[ch] for ch in ';:,.!?—…"()“” ')
"""Punctuation and spaces: a chunk of only these has nothing to pronounce."""

_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+|(?<=[.!?…。！？][\"'”’)\]])\s+|\n")
_SPACES = re.compile(r"\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:—])\s")
FIRST_PIECE = 64
"""A stream's first sentence longer than this many phonemes is cut after its first clause
that is at least this long, so the first audio comes sooner."""


def split_sentences(text: str) -> list[str]:
    """Sentences (or lines) of `text`, whitespace-normalized, empty ones dropped."""
    pieces = _SENTENCE_END.split(text)
    return [s for s in (_SPACES.sub(" ", p).strip() for p in pieces) if s]


def to_tokens(phonemes: str) -> list[int]:
    """Phoneme ids, unknown symbols dropped (no pads: the model adds them)."""
    return [VOCAB[ch] for ch in phonemes if ch in VOCAB]


def fit_window(phonemes: str, limit: int = MAX_PHONEMES) -> list[str]:
    """Split one sentence's phonemes into pieces of at most `limit` known symbols, at spaces
    where possible (a single word longer than the window is cut)."""
    phonemes = _SPACES.sub(" ", phonemes).strip()
    if len(to_tokens(phonemes)) <= limit:
        return [phonemes] if phonemes else []
    pieces: list[str] = []
    current = ""
    for word in phonemes.split(" "):
        while len(to_tokens(word)) > limit:
            head, word = _cut(word, limit)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
        candidate = f"{current} {word}" if current else word
        if len(to_tokens(candidate)) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = word
    if current:
        pieces.append(current)
    return [p for p in pieces if to_tokens(p)]


def split_first_clause(phonemes: str, at_least: int = FIRST_PIECE) -> list[str]:
    """`phonemes` cut after the first clause (at `,;:—`) of at least `at_least` symbols,
    when what follows is that long too; else unchanged."""
    for match in _CLAUSE_END.finditer(phonemes):
        head, tail = phonemes[: match.start()], phonemes[match.end() :]
        if len(to_tokens(head)) >= at_least:
            return [head, tail] if len(to_tokens(tail)) >= at_least else [phonemes]
    return [phonemes]


def _cut(word: str, limit: int) -> tuple[str, str]:
    """The longest prefix of `word` with `limit` known symbols, and the rest."""
    count = 0
    for index, ch in enumerate(word):
        if ch in VOCAB:
            count += 1
            if count == limit:
                return word[: index + 1], word[index + 1 :]
    return word, ""


def chunk_text(
    text: str, phonemize: Callable[[Sequence[str]], list[str]], limit: int = MAX_PHONEMES
) -> list[list[int]]:
    """The token ids of each chunk to synthesize, in order."""
    sentences = split_sentences(text)
    chunks: list[list[int]] = []
    for index, phonemes in enumerate(phonemize(sentences) if sentences else []):
        pieces = fit_window(phonemes, limit)
        if index == 0 and pieces:
            pieces = [*split_first_clause(pieces[0]), *pieces[1:]]
        chunks.extend(to_tokens(piece) for piece in pieces)
    return [c for c in chunks if not _SILENT.issuperset(c)]


def padded(tokens: Sequence[int]) -> list[int]:
    return [PAD_ID, *tokens, PAD_ID]
