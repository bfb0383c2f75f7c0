"""Every realistic case, three ways: whole output, token by token, and random re-chunkings.

All must give the same final message (DESIGN rule 4), and it must be the expected one.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.parsing.cases import CASES, Case, expected_reasoning_tokens
from tests.unit.parsing.replay import (
    TAG_FRAGMENTS,
    Call,
    Message,
    final,
    per_token,
    regroup,
    run,
    split_text,
    tag_ids,
    token_feeds,
    whole,
)

_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
by_id = pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])


def _feeds(case: Case) -> tuple[tuple[int, str], ...]:
    return token_feeds(case.text, eos=case.eos)


def _check_expected(case: Case, message: Message) -> None:
    assert message.reasoning == case.reasoning
    assert message.content == case.content
    assert [(c.name, c.arguments) for c in message.calls] == list(case.calls)
    ids = [tid for tid, _ in _feeds(case)]
    assert message.reasoning_tokens == expected_reasoning_tokens(case, ids, tag_ids())
    for fragment in TAG_FRAGMENTS:
        assert fragment not in message.reasoning
        if not case.tags_in_content:
            assert fragment not in message.content


@by_id
def test_whole_output(case: Case) -> None:
    _check_expected(case, run(case.parser_factory(), whole(_feeds(case))))


@by_id
def test_token_by_token_matches_whole(case: Case) -> None:
    make = case.parser_factory()
    streamed = run(make, per_token(_feeds(case)))
    _check_expected(case, streamed)
    assert final(streamed) == final(run(make, whole(_feeds(case))))


@by_id
@_SETTINGS
@given(data=st.data())
def test_token_aligned_rechunking(case: Case, data: st.DataObject) -> None:
    feeds = _feeds(case)
    cuts = data.draw(st.lists(st.booleans(), min_size=len(feeds), max_size=len(feeds)))
    make = case.parser_factory()
    assert final(run(make, regroup(feeds, cuts))) == final(run(make, whole(feeds)))


@by_id
@_SETTINGS
@given(data=st.data())
def test_arbitrary_text_splits(case: Case, data: st.DataObject) -> None:
    """Cuts anywhere, even inside a tag or a multi-byte character's neighbours."""
    feeds = _feeds(case)
    length = len(case.text)
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=max(1, length)), max_size=40))
    make = case.parser_factory()
    assert final(run(make, split_text(feeds, cuts))) == final(run(make, whole(feeds)))


@by_id
def test_one_character_at_a_time(case: Case) -> None:
    feeds = _feeds(case)
    text = "".join(t for _, t in feeds)
    make = case.parser_factory()
    message = run(make, split_text(feeds, list(range(1, len(text)))))
    assert final(message) == final(run(make, whole(feeds)))


@by_id
def test_streamed_deltas_are_well_formed(case: Case) -> None:
    """Reasoning comes first; a call's first delta has id and name, later ones fragments."""
    make = case.parser_factory()
    message = run(make, per_token(_feeds(case)))
    answer_started = False
    seen: set[int] = set()
    for delta in message.deltas:
        if delta.reasoning:
            assert not answer_started, "reasoning after content or a tool call"
        if delta.content or delta.tool_calls:
            answer_started = True
        for part in delta.tool_calls:
            if part.index not in seen:
                assert part.id is not None and part.id.startswith("call_")
                assert part.name is not None
                seen.add(part.index)
            else:
                assert part.id is None and part.name is None and part.arguments
    assert sorted(seen) == list(range(len(case.calls)))


WITH_CALLS = [case for case in CASES if case.calls]


@pytest.mark.parametrize("case", WITH_CALLS, ids=[case.id for case in WITH_CALLS])
def test_fragments_concatenate_to_whole_arguments(case: Case) -> None:
    make = case.parser_factory()
    streamed = run(make, per_token(_feeds(case)))
    at_once = run(make, whole(_feeds(case)))
    assert len(at_once.calls) == len(streamed.calls) == len(case.calls) > 0
    for index, call in enumerate(at_once.calls):
        assert "".join(streamed.fragments[index]) == call.arguments
        assert streamed.calls[index] == Call(call.name, call.arguments, call.id)
