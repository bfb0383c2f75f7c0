"""The reasoning splitter's edge cases and its token count."""

from __future__ import annotations

from types import SimpleNamespace

from tera_serve.parsing.base import ParsedDelta
from tera_serve.parsing.qwen3_reasoning import Qwen3ReasoningSplitter, ThinkTokenIds
from tests.fixtures.qwen3 import qwen3_tokenizer


def _split(splitter: Qwen3ReasoningSplitter, *chunks: str) -> tuple[str, str]:
    reasoning = content = ""
    for chunk in chunks:
        out = splitter.feed([], chunk)
        reasoning, content = reasoning + out.reasoning, content + out.content
    out = splitter.finish()
    return reasoning + out.reasoning, content + out.content


def test_partial_tags_are_held_back() -> None:
    splitter = Qwen3ReasoningSplitter()
    assert splitter.feed([], "<thi") == ParsedDelta(reasoning="", content="")
    assert splitter.feed([], "nk>\nHmm <") == ParsedDelta(reasoning="Hmm ", content="")
    assert splitter.feed([], "/thi") == ParsedDelta(reasoning="", content="")
    assert splitter.feed([], "nk>\n\nHi") == ParsedDelta(reasoning="", content="Hi")


def test_a_repeated_think_tag_after_an_open_prompt_is_dropped() -> None:
    splitter = Qwen3ReasoningSplitter(thinking_open=True)
    assert _split(splitter, "<think>\nHmm.\n</think>\n\nYes.") == ("Hmm.", "Yes.")


def test_close_tag_without_open_tag_starts_content() -> None:
    assert _split(Qwen3ReasoningSplitter(), "</think>\n\nYes.") == ("", "Yes.")


def test_content_without_think_block_is_untouched() -> None:
    assert _split(Qwen3ReasoningSplitter(), "  Hello\n") == ("", "  Hello\n")


def test_whitespace_only_output_is_content() -> None:
    assert _split(Qwen3ReasoningSplitter(thinking_disabled=True), "\n\n") == ("", "\n\n")


def test_token_ids_come_from_the_vocabulary() -> None:
    ids = ThinkTokenIds.from_tokenizer(qwen3_tokenizer())
    assert ids == ThinkTokenIds(151667, 151668, 151657)


def test_vocabulary_without_think_tokens() -> None:
    class NoTags:
        def convert_tokens_to_ids(self, token: str) -> int:
            return 0

        def convert_ids_to_tokens(self, token_id: int) -> str:
            return "<unk>"

    assert ThinkTokenIds.from_tokenizer(NoTags()) is None
    assert ThinkTokenIds.from_tokenizer(SimpleNamespace()) is None


def test_count_without_token_ids_counts_deltas_that_touch_reasoning() -> None:
    splitter = Qwen3ReasoningSplitter(token_ids=None)
    splitter.feed([1], "<think>")
    splitter.feed([2, 3], "a b")
    splitter.feed([4, 5], "</think>\n\nHi")
    splitter.feed([6], " there")
    assert splitter.reasoning_tokens == 5


def test_leading_whitespace_before_think_is_dropped() -> None:
    splitter = Qwen3ReasoningSplitter()
    assert _split(splitter, " \n", "\n<th", "ink>x</think>y") == ("x", "y")


def test_leading_whitespace_before_content_is_kept() -> None:
    assert _split(Qwen3ReasoningSplitter(), " \n", " <b>hi") == ("", " \n <b>hi")
