"""The harmony output parser on realistic gpt-oss outputs: whole, token by token, and in
random re-chunkings, all giving the same message."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.core.conversation import ToolSpec
from tera_serve.families.base import ParserSetup
from tera_serve.families.harmony_family import HarmonyFamily
from tera_serve.parsing.harmony import HarmonyParser
from tests.support.harmony_outputs import (
    CALL,
    RETURN,
    TOOLS,
    Folded,
    assistant,
    call,
    chunked,
    completion,
    encoding,
    fold,
    new_parser,
    text_tokens,
)

THINK = "The user asks for the weather in Paris. I should call get_weather with city Paris."
ARGS = '{"city": "Paris", "unit": "celsius"}'
GREETING = "Hello! How can I help you today? 👋 Grüße aus Köln, 東京からも。"


@dataclass(frozen=True)
class Case:
    tokens: list[int]
    expected: Folded
    tools: frozenset[str] = TOOLS
    parallel: bool = True


def _weather_call(
    index: int = 0, arguments: str = ARGS, name: str = "get_weather"
) -> dict[str, str]:
    return {"id": f"call_{index}", "name": name, "arguments": arguments}


def _analysis_tokens(text: str = THINK) -> int:
    """Tokens of one analysis message as the model generates it (header to `<|end|>`)."""
    return len(completion(assistant(text, "analysis")))


def _cut_in_analysis() -> Case:
    tokens = completion(assistant(THINK, "analysis"))[:12]
    # The first 3 tokens are `<|channel|>analysis<|message|>`; the rest is reasoning text.
    return Case(
        tokens, Folded(reasoning=encoding().decode(tokens[3:]), reasoning_tokens=len(tokens))
    )


def _cases() -> dict[str, Case]:
    analysis = assistant(THINK, "analysis")
    role_header_call = text_tokens(
        "<|start|>assistant to=functions.get_weather<|channel|>commentary json"
        '<|message|>{"city": "Tokyo"}<|call|>'
    )
    analysis_channel_call = text_tokens(
        "<|start|>assistant<|channel|>analysis to=functions.get_time code"
        '<|message|>{"tz": "Europe/Paris"}<|call|>'
    )
    both_recipients = text_tokens(
        "<|start|>assistant to=functions.get_weather<|channel|>commentary "
        'to=functions.get_weather <|constrain|>json<|message|>{"city": "Oslo"}<|call|>'
    )
    two_calls = text_tokens(
        "<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"city": "Rome"}<|end|>'
        "<|start|>assistant<|channel|>commentary to=functions.get_time <|constrain|>json"
        '<|message|>{"tz": "CET"}<|call|>'
    )
    stray_specials = text_tokens(
        "<|channel|>final<|message|>Café <|constrain|>crème<|reserved_200100|> ☕"
        "<|start|>!<|return|>"
    )
    return {
        "analysis then final": Case(
            completion(analysis, assistant(GREETING, "final"), last=RETURN),
            Folded(reasoning=THINK, content=GREETING, reasoning_tokens=_analysis_tokens()),
        ),
        "final only": Case(
            completion(assistant("Paris.", "final"), last=RETURN), Folded(content="Paris.")
        ),
        "call, recipient after the channel": Case(
            completion(analysis, call("get_weather", ARGS)),
            Folded(
                reasoning=THINK,
                calls=[_weather_call()],
                reasoning_tokens=_analysis_tokens(),
            ),
        ),
        "call, recipient in the role header": Case(
            completion(analysis) + role_header_call,
            Folded(
                reasoning=THINK,
                calls=[_weather_call(arguments='{"city": "Tokyo"}')],
                reasoning_tokens=_analysis_tokens(),
            ),
        ),
        "preamble then call": Case(
            completion(
                analysis,
                assistant("Let me look up the current weather.", "commentary"),
                call("get_weather", ARGS),
            ),
            Folded(
                reasoning=THINK,
                content="Let me look up the current weather.",
                calls=[_weather_call()],
                reasoning_tokens=_analysis_tokens(),
            ),
        ),
        "call on the analysis channel": Case(
            completion(analysis) + analysis_channel_call,
            Folded(
                reasoning=THINK,
                calls=[_weather_call(name="get_time", arguments='{"tz": "Europe/Paris"}')],
                reasoning_tokens=_analysis_tokens(),
            ),
        ),
        "recipient in both places": Case(
            completion(analysis) + both_recipients,
            Folded(
                reasoning=THINK,
                calls=[_weather_call(arguments='{"city": "Oslo"}')],
                reasoning_tokens=_analysis_tokens(),
            ),
        ),
        "max_tokens cut in analysis": _cut_in_analysis(),
        "cut inside a later header": Case(
            completion(analysis) + text_tokens("<|start|>assistant<|channel|>fin"),
            Folded(reasoning=THINK, reasoning_tokens=_analysis_tokens()),
        ),
        "two calls, parallel": Case(
            two_calls,
            Folded(
                calls=[
                    _weather_call(arguments='{"city": "Rome"}'),
                    _weather_call(1, '{"tz": "CET"}', "get_time"),
                ],
            ),
        ),
        "two calls, parallel_tool_calls=false": Case(
            two_calls,
            Folded(calls=[_weather_call(arguments='{"city": "Rome"}')]),
            parallel=False,
        ),
        "no tools offered: a call is text": Case(
            completion(call("get_weather", ARGS)), Folded(content=ARGS), tools=frozenset()
        ),
        "special tokens inside the text": Case(stray_specials, Folded(content="Café crème ☕!")),
        "tokens after <|return|> are ignored": Case(
            completion(assistant("Done.", "final"), last=RETURN) + text_tokens("more<|end|>"),
            Folded(content="Done."),
        ),
        "plain text, no harmony at all": Case(
            text_tokens("I am not speaking harmony, sorry."),
            Folded(content="I am not speaking harmony, sorry."),
        ),
        "garbage after a message": Case(
            text_tokens("<|channel|>final<|message|>Hi.<|end|> oops, more<|call|>trailing"),
            Folded(content="Hi. oops, more"),
        ),
    }


CASES = _cases()


@pytest.fixture(autouse=True)
def _quiet_fallback_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="tera_serve.parsing.harmony")


def _check(case: Case, chunks: list[list[int]]) -> None:
    folded = fold(new_parser(case.tools, case.parallel), chunks)
    assert folded == case.expected
    assert "<|" not in folded.content
    assert "<|" not in folded.reasoning


@pytest.mark.parametrize("name", list(CASES))
def test_whole_output(name: str) -> None:
    case = CASES[name]
    _check(case, [case.tokens])


@pytest.mark.parametrize("name", list(CASES))
def test_token_by_token(name: str) -> None:
    case = CASES[name]
    _check(case, [[token] for token in case.tokens])


@pytest.mark.parametrize("name", list(CASES))
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sizes=st.lists(st.integers(min_value=0, max_value=7), max_size=12))
def test_random_rechunking(name: str, sizes: list[int]) -> None:
    case = CASES[name]
    _check(case, chunked(case.tokens, sizes))


def test_call_arrives_before_its_arguments() -> None:
    tokens = completion(call("get_weather", ARGS))
    parser = new_parser()
    header_end = tokens.index(200008) + 1
    first = parser.feed(tokens[:header_end], "")
    assert [(c.index, c.id, c.name, c.arguments) for c in first.tool_calls] == [
        (0, "call_0", "get_weather", "")
    ]
    rest = parser.feed(tokens[header_end:], "")
    assert "".join(c.arguments for c in rest.tool_calls) == ARGS
    assert all(c.id is None and c.name is None for c in rest.tool_calls)


def test_default_call_ids_are_random_and_prefixed() -> None:
    tokens = completion(call("get_weather", ARGS))
    ids = set()
    for _ in range(3):
        parser = HarmonyParser(encoding(), TOOLS, True)
        (first, *_rest) = parser.feed(tokens, "").tool_calls
        assert first.id is not None and first.id.startswith("call_")
        ids.add(first.id)
    assert len(ids) == 3


def _marker_free(token: int) -> bool:
    text = encoding().decode([token])
    return "<" not in text and "|" not in text


_HEADER_WORDS = text_tokens(" to=functions.get_weather analysis final commentary json assistant")
_SPECIALS = [199998, 199999, 200002, 200003, 200005, 200006, 200007, 200008, 200012, 200100]
_GARBAGE_TOKEN = st.one_of(
    st.sampled_from(_SPECIALS),
    st.sampled_from(_HEADER_WORDS),
    st.integers(min_value=0, max_value=199997).filter(_marker_free),
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tokens=st.lists(_GARBAGE_TOKEN, max_size=60),
    sizes=st.lists(st.integers(min_value=0, max_value=5), max_size=8),
    parallel=st.booleans(),
)
def test_garbage_never_raises_and_never_leaks_markers(
    tokens: list[int], sizes: list[int], parallel: bool
) -> None:
    whole = fold(new_parser(TOOLS, parallel), [tokens])
    assert "<|" not in whole.content
    assert "<|" not in whole.reasoning
    assert fold(new_parser(TOOLS, parallel), [[t] for t in tokens]) == whole
    assert fold(new_parser(TOOLS, parallel), chunked(tokens, sizes)) == whole
    if not parallel:
        assert len(whole.calls) <= 1


def _factory(tool_call_parser: str | None) -> Any:
    setup = ParserSetup(
        prompt=ChatPrompt(text="", token_ids=(1,)),
        tools=(ToolSpec("get_weather"),),
        parallel_tool_calls=True,
    )
    return HarmonyFamily(tool_call_parser=tool_call_parser).parser_factory(SimpleNamespace(), setup)


def test_parser_choice_gives_harmony_parsers() -> None:
    factory = _factory("openai")
    parser = factory()
    assert isinstance(parser, HarmonyParser)
    assert factory() is not parser
    folded = fold(parser, [completion(call("get_weather", ARGS))])
    assert [c["name"] for c in folded.calls] == ["get_weather"]


def test_parser_choice_without_a_tool_parser_offers_no_tools() -> None:
    factory = _factory(None)
    folded = fold(factory(), [completion(call("get_weather", ARGS))])
    assert folded.calls == []
    assert folded.content == ARGS


def test_stop_token_constants_match_harmony() -> None:
    assert sorted(encoding().stop_tokens_for_assistant_actions()) == sorted([RETURN, CALL])
