"""Which parser a request gets, from the model family and the request's tools."""

from __future__ import annotations

from typing import Any, cast

import pytest

from tera_serve.chat.family import ModelFamily
from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.chat.template import ChatTemplateRenderer
from tera_serve.config import ModelConfig
from tera_serve.engine.base import Engine
from tera_serve.parsing.base import PlainParser
from tera_serve.parsing.qwen_family import QwenFamilyParser, make_qwen_parser
from tera_serve.service.parser_choice import make_parser_factory
from tera_serve.service.registry import ServedModel
from tests.fixtures.qwen3 import qwen3_tokenizer
from tests.unit.parsing.cases import SCHEMAS


def _served(reasoning: str | None, tools: str | None) -> ServedModel:
    return ServedModel(
        config=ModelConfig(model="qwen-test"),
        engine=cast(Engine, None),
        renderer=ChatTemplateRenderer(qwen3_tokenizer()),
        family=ModelFamily(reasoning_parser=reasoning, tool_call_parser=tools),
        created=0,
    )


def _factory(
    reasoning: str | None,
    tools: str | None,
    tool_names: tuple[str, ...] = ("get_weather",),
    **prompt: Any,
) -> Any:
    return make_parser_factory(
        _served(reasoning, tools),
        prompt=ChatPrompt(text="", token_ids=(), **prompt),
        tool_names=tool_names,
        tool_schemas={name: SCHEMAS[name] for name in tool_names},
        parallel_tool_calls=True,
    )


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


def test_harmony_models_never_get_the_qwen_parser() -> None:
    factory = _factory("openai_gptoss", "openai")
    assert getattr(factory, "func", factory) is not make_qwen_parser


def test_qwen3_hermes_parses_reasoning_and_calls() -> None:
    parser = _factory("qwen3", "hermes")()
    assert isinstance(parser, QwenFamilyParser)
    text = '<think>\nok\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {}}'
    out = parser.feed([151667, 1, 151668], text)
    out.extend(parser.finish())
    assert out.reasoning == "ok" and out.content == ""
    assert [c.name for c in out.tool_calls] == ["get_weather"]
    assert parser.called_tools and parser.reasoning_tokens == 3


def test_each_choice_gets_its_own_parser() -> None:
    factory = _factory("qwen3", "qwen3_coder")
    assert factory() is not factory()


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
