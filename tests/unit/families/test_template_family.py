"""Which parser chain a request gets from its model family and the request's tools."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.core.conversation import ToolSpec
from tera_serve.families.base import ParserSetup
from tera_serve.families.harmony_family import HarmonyFamily
from tera_serve.families.registry import resolve_family
from tera_serve.parsing.base import PlainParser
from tera_serve.parsing.chain import ParserChain
from tera_serve.parsing.harmony import HarmonyParser
from tera_serve.parsing.hermes import HermesToolParser
from tera_serve.parsing.qwen3_coder import Qwen3CoderToolParser
from tera_serve.parsing.qwen3_reasoning import Qwen3ReasoningSplitter
from tests.fixtures.qwen3 import qwen3_tokenizer
from tests.unit.parsing.cases import SCHEMAS


def _factory(
    reasoning: str | None,
    tools: str | None,
    tool_names: tuple[str, ...] = ("get_weather",),
    **prompt: Any,
) -> Any:
    family = resolve_family(
        SimpleNamespace(model_type="gpt_oss" if reasoning == "openai_gptoss" else "qwen3"),
        None,
        reasoning_parser=reasoning or "none",
        tool_call_parser=tools or "none",
    )
    setup = ParserSetup(
        prompt=ChatPrompt(text="", token_ids=(), **prompt),
        tools=tuple(ToolSpec(name, parameters=SCHEMAS[name]) for name in tool_names),
        parallel_tool_calls=True,
    )
    return family.parser_factory(SimpleNamespace(tokenizer=qwen3_tokenizer()), setup)


def _stage_types(parser: Any) -> list[type]:
    assert isinstance(parser, ParserChain)
    return [type(stage) for stage in parser._stages]


@pytest.mark.parametrize(
    ("reasoning", "tools", "names"),
    [
        (None, None, ("get_weather",)),
        (None, "hermes", ()),  # tool_choice none, or no tools in the request
    ],
)
def test_plain_parser_when_nothing_to_parse(
    reasoning: str | None, tools: str | None, names: tuple[str, ...]
) -> None:
    assert _factory(reasoning, tools, names) is PlainParser


def test_harmony_models_get_the_harmony_parser() -> None:
    assert isinstance(_factory("openai_gptoss", "openai")(), HarmonyParser)


@pytest.mark.parametrize(
    ("reasoning", "tools", "stages"),
    [
        ("qwen3", "hermes", [Qwen3ReasoningSplitter, HermesToolParser]),
        ("qwen3", "qwen3_coder", [Qwen3ReasoningSplitter, Qwen3CoderToolParser]),
        ("qwen3", None, [Qwen3ReasoningSplitter]),
        (None, "qwen3_coder", [Qwen3CoderToolParser]),
    ],
)
def test_chain_stages_follow_the_family(
    reasoning: str | None, tools: str | None, stages: list[type]
) -> None:
    assert _stage_types(_factory(reasoning, tools)()) == stages


def test_qwen3_hermes_parses_reasoning_and_calls() -> None:
    parser = _factory("qwen3", "hermes")()
    text = '<think>\nok\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {}}'
    out = parser.feed([151667, 1, 151668], text)
    out.extend(parser.finish())
    assert out.reasoning == "ok" and out.content == ""
    assert [c.name for c in out.tool_calls] == ["get_weather"]
    assert parser.reasoning_tokens == 3


def test_each_choice_gets_its_own_parser_state() -> None:
    factory = _factory("qwen3", "qwen3_coder")
    first, second = factory(), factory()
    first.feed([151667], "<think>half a thought")
    out = second.feed([], "plain answer")
    out.extend(second.finish())
    assert (out.reasoning, out.content) == ("", "plain answer")


def test_prompt_state_reaches_the_splitter() -> None:
    parser = _factory("qwen3", None, (), thinking_open=True)()
    out = parser.feed([5, 151668], "deep thought</think>answer")
    assert (out.reasoning, out.content) == ("deep thought", "answer")
    assert parser.reasoning_tokens == 2


def test_tools_without_reasoning() -> None:
    parser = _factory(None, "qwen3_coder")()
    out = parser.feed([], "<think>x</think><tool_call><function=get_weather></function>")
    out.extend(parser.finish())
    assert out.content == "<think>x</think>"  # no reasoning parser: the text is content
    assert "".join(c.arguments for c in out.tool_calls) == "{}"


def test_harmony_family_reads_no_calls_without_its_tool_parser() -> None:
    family = HarmonyFamily(tool_call_parser=None)
    assert family.features() == ("reasoning",)
