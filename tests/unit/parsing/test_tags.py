"""Tag search with hold-back of partial tags."""

from __future__ import annotations

from tera_serve.parsing.tags import TagSet, skip_space

TAGS = TagSet(("<think>", "</think>", "<tool_call>"))


def test_find_earliest_tag() -> None:
    assert TAGS.find("a</think><think>") == (1, "</think>")
    assert TAGS.find("abc") is None
    assert TAGS.find("<think>x<think>", 1) == (8, "<think>")


def test_held_len_keeps_only_possible_tag_starts() -> None:
    assert TAGS.held_len("hello <thi") == 4
    assert TAGS.held_len("hello </") == 2
    assert TAGS.held_len("a < b") == 0
    assert TAGS.held_len("x<") == 1
    assert TAGS.held_len("<think") == 6
    assert TAGS.held_len("<tool_call", 3) == 0  # only text from `start` counts


def test_skip_space() -> None:
    assert skip_space(" \n\tx", 0) == 3
    assert skip_space("   ", 1) == 3
