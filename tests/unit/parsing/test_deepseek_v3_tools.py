"""DeepSeek-V3 outputs (think block, tool-call special tokens) through the family's chain,
on the real DeepSeek-V3 tokenizer: whole, token by token and re-chunked at random, all the
same message, and the expected one."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tera_serve.parsing.base import OutputParser
from tera_serve.parsing.deepseek_v3_tools import DEEPSEEK_V3, DeepSeekV3ToolParser
from tera_serve.parsing.tagged_chain import make_tagged_chain
from tests.fixtures.deepseek_v3 import call_text, deepseek_v3_tokenizer
from tests.unit.parsing.cases import SCHEMAS
from tests.unit.parsing.replay import (
    Message,
    per_token,
    regroup,
    run,
    split_text,
    token_feeds,
    whole,
)

EOS = "<｜end▁of▁sentence｜>"
PARIS = {"city": "Paris", "unit": "celsius"}
TRICKY = {"to": "anna", "text": 'a fence ```\n inside, "quotes", 東京 🎉\n'}
TOKENS = (
    "<｜tool▁calls▁begin｜>",
    "<｜tool▁calls▁end｜>",
    "<｜tool▁call▁begin｜>",
    "<｜tool▁call▁end｜>",
    "<｜tool▁sep｜>",
)


def one_call(name: str, arguments: str, language: str = "json") -> str:
    return f"<｜tool▁call▁begin｜>function<｜tool▁sep｜>{name}\n```{language}\n{arguments}\n```<｜tool▁call▁end｜>"


def calls(*parts: str) -> str:
    return "<｜tool▁calls▁begin｜>" + "\n".join(parts) + "<｜tool▁calls▁end｜>"


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    reasoning: str = ""
    content: str = ""
    calls: tuple[tuple[str, str], ...] = ()
    tokens_in_content: bool = False


CASES = [
    Case("plain answer", "The weather is fine.", content="The weather is fine."),
    Case(
        "think then answer",
        "<think>\nThe user greets.\n</think>\n\nHello!",
        reasoning="The user greets.",
        content="Hello!",
    ),
    Case(
        "one call, as the template renders it",
        call_text("get_weather", PARIS),
        calls=(("get_weather", json.dumps(PARIS)),),
    ),
    Case(
        "preamble, two calls, text after",
        "Let me check. "
        + calls(one_call("get_weather", json.dumps(PARIS)), one_call("get_time", "{}"))
        + "\n\nDone.",
        content="Let me check.Done.",
        calls=(("get_weather", json.dumps(PARIS)), ("get_time", "{}")),
    ),
    Case(
        "think, then a call",
        "<think>Need the weather.</think>" + calls(one_call("get_weather", '{"city": "Rome"}')),
        reasoning="Need the weather.",
        calls=(("get_weather", '{"city": "Rome"}'),),
    ),
    Case(
        "the calls end an unclosed think block",
        "<think>Weather, then." + calls(one_call("get_time", "{}")),
        reasoning="Weather, then.",
        calls=(("get_time", "{}"),),
    ),
    Case(
        "a fence inside a JSON string",
        calls(one_call("send_message", json.dumps(TRICKY, ensure_ascii=False))),
        calls=(("send_message", json.dumps(TRICKY, ensure_ascii=False)),),
    ),
    Case(
        "no fence, pretty-printed arguments",
        calls(
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
            '{\n  "city": "Oslo"\n}<｜tool▁call▁end｜>'
        ),
        calls=(("get_weather", '{\n  "city": "Oslo"\n}'),),
    ),
    Case(
        "a fence without a language",
        calls(one_call("get_time", '{"tz": "CET"}', language="")),
        calls=(("get_time", '{"tz": "CET"}'),),
    ),
    Case(
        "an unknown tool stays content",
        calls(one_call("launch_rocket", "{}")),
        content=one_call("launch_rocket", "{}"),
        tokens_in_content=True,
    ),
]
by_id = pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _make() -> Callable[[], OutputParser]:
    def make() -> OutputParser:
        counter = itertools.count()
        return make_tagged_chain(
            reasoning=True,
            tool_format=DEEPSEEK_V3,
            tool_names=frozenset(SCHEMAS),
            tool_schemas=SCHEMAS,
            new_call_id=lambda: f"call_{next(counter):024d}",
        )

    return make


def final(message: Message) -> tuple[object, ...]:
    """The message, less its reasoning-token count: `<think>` is no single token in this
    vocabulary, so that count is per delta touched, exact only token by token (as the
    engine streams); stream and non-stream answers fold the same deltas."""
    return message.reasoning, message.content, message.calls


def _feeds(case: Case) -> tuple[tuple[int, str], ...]:
    return token_feeds(case.text, tokenizer=deepseek_v3_tokenizer(), eos_token=EOS)


def test_the_tool_tags_are_single_tokens_that_reach_the_text() -> None:
    tokenizer = deepseek_v3_tokenizer()
    for token in TOKENS:
        (token_id,) = tokenizer.encode(token, add_special_tokens=False)
        assert tokenizer.decode([token_id], skip_special_tokens=True) == token


@by_id
def test_whole_output(case: Case) -> None:
    message = run(_make(), whole(_feeds(case)))
    assert (message.reasoning, message.content) == (case.reasoning, case.content)
    assert [(c.name, c.arguments) for c in message.calls] == list(case.calls)
    for token in TOKENS:
        assert token not in message.reasoning
        assert case.tokens_in_content or token not in message.content


@by_id
def test_token_by_token_matches_whole(case: Case) -> None:
    make = _make()
    streamed = run(make, per_token(_feeds(case)))
    assert final(streamed) == final(run(make, whole(_feeds(case))))
    if case.reasoning:
        assert 0 < streamed.reasoning_tokens < len(_feeds(case))
    for index, call in enumerate(streamed.calls):
        assert "".join(streamed.fragments[index]) == call.arguments


@by_id
@_SETTINGS
@given(data=st.data())
def test_random_rechunking_matches_whole(case: Case, data: st.DataObject) -> None:
    feeds = _feeds(case)
    make = _make()
    expected = final(run(make, whole(feeds)))
    cuts = data.draw(st.lists(st.booleans(), min_size=len(feeds), max_size=len(feeds)))
    assert final(run(make, regroup(feeds, cuts))) == expected
    length = len(case.text)
    splits = data.draw(st.lists(st.integers(min_value=1, max_value=max(1, length)), max_size=40))
    assert final(run(make, split_text(feeds, splits))) == expected


def test_a_call_is_reported_once_its_arguments_begin() -> None:
    parser = DeepSeekV3ToolParser({"get_weather"}, new_call_id=lambda: "call_fixed")
    head = parser.feed(
        [], "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
    )
    assert head.tool_calls == [] and head.content == ""
    first = parser.feed([], '```json\n{"city": "Pa')
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [
        ("call_fixed", "get_weather", '{"city": "Pa')
    ]
    held = parser.feed([], 'ris"}\n``')  # the fence's start is held until it is known
    assert [c.arguments for c in held.tool_calls] == ['ris"}']
    end = parser.feed([], "`<｜tool▁call▁end｜><｜tool▁calls▁end｜>")
    end.extend(parser.finish())
    assert end.tool_calls == [] and end.content == ""


def test_one_call_limit_drops_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    parser = DEEPSEEK_V3.stage({"get_time"}, parallel_tool_calls=False)
    text = calls(one_call("get_time", "{}"), one_call("get_time", '{"tz": "UTC"}'))
    with caplog.at_level(logging.WARNING):
        out = parser.feed([], text)
        out.extend(parser.finish())
    assert [(c.index, c.arguments) for c in out.tool_calls] == [(0, "{}")]
    assert out.content == ""
    assert "parallel_tool_calls is false" in caplog.text


def test_a_call_without_its_separator_is_content(caplog: pytest.LogCaptureFixture) -> None:
    parser = DEEPSEEK_V3.stage({"get_time"})
    text = '<｜tool▁call▁begin｜>get_time {"tz": "UTC"}<｜tool▁call▁end｜>'
    with caplog.at_level(logging.WARNING):
        out = parser.feed([], text)
        out.extend(parser.finish())
    assert out.tool_calls == [] and out.content == text
    assert "<｜tool▁sep｜>" in caplog.text


def test_a_missing_end_token_keeps_the_call_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    parser = DEEPSEEK_V3.stage({"get_time"})
    text = '<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{"tz": "UTC"}\n```'
    with caplog.at_level(logging.WARNING):
        out = parser.feed([], text + "<｜tool▁calls▁end｜>")
        out.extend(parser.finish())
    assert [c.arguments for c in out.tool_calls] == ['{"tz": "UTC"}']
    assert "<｜tool▁call▁end｜>" in caplog.text
