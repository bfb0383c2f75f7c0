"""Sentence splitting and chunking under Kokoro's 510-phoneme window."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from tera_serve.speech.text import (
    MAX_PHONEMES,
    chunk_text,
    fit_window,
    padded,
    split_first_clause,
    split_sentences,
    to_tokens,
)
from tera_serve.speech.vocab import PAD_ID, VOCAB


def test_sentences_split_at_end_punctuation_and_lines() -> None:
    text = 'Hello world.  He said "hi." Then!\nWhat?  Fine…ok 3.5 apples'
    assert split_sentences(text) == [
        "Hello world.",
        'He said "hi."',
        "Then!",
        "What?",
        "Fine…ok 3.5 apples",
    ]


def test_blank_text_has_no_sentences() -> None:
    assert split_sentences(" \n\t ") == []


def test_tokens_drop_symbols_outside_the_vocabulary() -> None:
    assert to_tokens("a€b") == [VOCAB["a"], VOCAB["b"]]
    assert padded([5, 6]) == [PAD_ID, 5, 6, PAD_ID]


def test_a_short_sentence_is_one_piece() -> None:
    assert fit_window("həlˈoʊ wˈɜːld.") == ["həlˈoʊ wˈɜːld."]


def test_a_long_sentence_splits_at_spaces_under_the_window() -> None:
    words = ["abcdefghi"] * 200  # 2,000 phonemes
    pieces = fit_window(" ".join(words))
    assert len(pieces) > 3
    assert all(len(to_tokens(p)) <= MAX_PHONEMES for p in pieces)
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in pieces)
    assert " ".join(pieces) == " ".join(words)


def test_a_word_longer_than_the_window_is_cut() -> None:
    pieces = fit_window("x" * 1200, limit=500)
    assert [len(p) for p in pieces] == [500, 500, 200]


@given(st.lists(st.text(alphabet="abə ˈ.", min_size=1, max_size=40), min_size=1, max_size=40))
def test_pieces_keep_every_symbol_in_order(words: list[str]) -> None:
    text = " ".join(words)
    pieces = fit_window(text, limit=37)
    assert all(len(to_tokens(p)) <= 37 for p in pieces)
    space = VOCAB[" "]
    kept = [t for p in pieces for t in to_tokens(p) if t != space]
    assert kept == [t for t in to_tokens(text) if t != space]


def test_chunks_follow_sentences() -> None:
    seen: list[Sequence[str]] = []

    def phonemize(sentences: Sequence[str]) -> list[str]:
        seen.append(list(sentences))
        return [s.lower() for s in sentences]

    chunks = chunk_text("One. Two!", phonemize)
    assert seen == [["One.", "Two!"]]
    assert chunks == [to_tokens("one."), to_tokens("two!")]


def test_text_without_pronounceable_symbols_gives_no_chunks() -> None:
    assert chunk_text("€€€", lambda s: ["€" for _ in s]) == []
    assert chunk_text("... !?", lambda s: list(s)) == []


def test_a_long_first_sentence_is_cut_after_a_clause() -> None:
    head, tail = "a" * 70 + ",", "b" * 70 + "."
    assert split_first_clause(f"aa, {head} {tail}") == [f"aa, {head}", tail]
    assert split_first_clause(f"{head} bb.") == [f"{head} bb."]  # too little would follow
    assert split_first_clause("a" * 200) == ["a" * 200]
    chunks = chunk_text("First. Second.", lambda s: [f"{head} {tail}", f"{head} {tail}"])
    assert chunks == [to_tokens(head), to_tokens(tail), to_tokens(f"{head} {tail}")]
