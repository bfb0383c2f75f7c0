"""The DeepSeek-V3 family on its real tokenizer and chat template: detection and parser
names, prompts (tools, tool calls and results, system messages), its parser chain, and a
tool call forced by a grammar."""

from __future__ import annotations

import asyncio
import itertools
import json
from types import SimpleNamespace
from typing import Any

import pytest

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.chat.template import ChatTemplateRenderer
from tera_serve.config import ModelConfig
from tera_serve.core.conversation import Conversation, Message, TextPart, ToolCallPart, ToolSpec
from tera_serve.engine.base import StructuredConstraint
from tera_serve.errors import ConfigError
from tera_serve.families.base import FamilyProfile, ParserSetup
from tera_serve.families.deepseek_v3 import DEEPSEEK_V3_FAMILY, describe_tools
from tera_serve.families.registry import (
    FAMILIES,
    check_parser_pair,
    parser_names,
    resolve_family,
)
from tera_serve.parsing.base import ParsedDelta
from tera_serve.parsing.chain import ParserChain
from tera_serve.parsing.deepseek_v3_tools import DeepSeekV3ToolParser
from tera_serve.parsing.forced_tools import ForcedToolCallParser
from tera_serve.parsing.qwen3_reasoning import Qwen3ReasoningSplitter
from tests.fixtures.deepseek_v3 import deepseek_v3_tokenizer

BOS = "<｜begin▁of▁sentence｜>"
WEATHER = ToolSpec(
    "get_weather",
    "Weather now.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
ARGS = '{"city": "Paris"}'


def _text(role: Any, text: str) -> Message:
    return Message(role, (TextPart(text),))


def _call(text: str = "") -> Message:
    parts = (TextPart(text),) if text else ()
    return Message("assistant", parts, tool_calls=(ToolCallPart("call_1", "get_weather", ARGS),))


def _model() -> Any:
    tokenizer = deepseek_v3_tokenizer()
    return SimpleNamespace(
        config=ModelConfig(model="m"), renderer=ChatTemplateRenderer(tokenizer), tokenizer=tokenizer
    )


def _family() -> FamilyProfile:
    return resolve_family(
        SimpleNamespace(model_type="llama"), deepseek_v3_tokenizer().chat_template
    )


def _render(*messages: Message, open_reasoning: bool = False, **fields: Any) -> ChatPrompt:
    conversation = Conversation(model="m", messages=messages, **fields)
    return asyncio.run(_family().render(conversation, _model(), open_reasoning=open_reasoning))


def test_the_template_is_detected_with_vllm_parser_names() -> None:
    family = _family()
    assert family is DEEPSEEK_V3_FAMILY
    assert (family.reasoning_parser, family.tool_call_parser) == ("deepseek_v3", "deepseek_v3")
    assert family.reasoning_field == "reasoning_content"
    assert set(family.features()) == {"tools", "reasoning"}
    assert resolve_family(SimpleNamespace(model_type="deepseek_v3"), None) is family


def test_its_names_come_from_the_family_list() -> None:
    reasoning, tools = parser_names()
    assert "deepseek_v3" in reasoning and "deepseek_v3" in tools
    check_parser_pair("deepseek_v3", "deepseek_v3")
    with pytest.raises(ConfigError, match="family"):
        check_parser_pair("deepseek_v3", "hermes")
    with pytest.raises(ConfigError, match="tool_call_parser must be one of"):
        check_parser_pair(None, "deepseek_v31")


def test_every_family_has_its_own_pair() -> None:
    pairs = [(f.reasoning_parser, f.tool_call_parser) for f in FAMILIES]
    assert len(pairs) == len(set(pairs))


def test_an_agent_turn_renders_as_deepseek_writes_it() -> None:
    prompt = _render(
        _text("system", "Be brief."),
        _text("user", "Weather?"),
        _call(),
        Message("tool", (TextPart("sunny"),), tool_call_id="call_1"),
        tools=(WEATHER,),
    )
    assert prompt.text == (
        f"{BOS}Be brief.\n\n{describe_tools((WEATHER,))}<｜User｜>Weather?<｜Assistant｜>"
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
        f"```json\n{ARGS}\n```<｜tool▁call▁end｜>"
        "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>sunny<｜tool▁output▁end｜>"
        "<｜tool▁outputs▁end｜>"
    )
    assert json.loads(describe_tools((WEATHER,)).split("```json\n")[1].split("\n```")[0]) == {
        "name": "get_weather",
        "description": "Weather now.",
        "parameters": dict(WEATHER.parameters or {}),
    }
    assert prompt.token_ids == tuple(
        deepseek_v3_tokenizer().encode(prompt.text, add_special_tokens=False)
    )


def test_without_tools_offered_nothing_is_described() -> None:
    prompt = _render(_text("user", "Hi"))
    assert prompt.text == f"{BOS}<｜User｜>Hi<｜Assistant｜>"
    assert not prompt.thinking_open


def test_a_call_with_text_keeps_the_call() -> None:
    """The template drops the calls of a message that has text: the family gives it none."""
    prompt = _render(_text("user", "Weather?"), _call("Let me look."), tools=(WEATHER,))
    assert "<｜tool▁sep｜>get_weather" in prompt.text
    assert "Let me look." not in prompt.text


def test_later_system_messages_join_the_leading_one() -> None:
    """The template writes every system message at the top: the probe sees it does not
    render a later one in place, so it is merged (the same text the template makes)."""
    assert not asyncio.run(_model().renderer.late_system_in_place(None))
    prompt = _render(
        _text("developer", "First."),
        _text("user", "Q1"),
        _text("assistant", "A1"),
        _text("system", "Later."),
        _text("user", "Q2"),
    )
    assert prompt.text == (
        f"{BOS}First.\n\nLater.<｜User｜>Q1<｜Assistant｜>A1<｜end▁of▁sentence｜>"
        "<｜User｜>Q2<｜Assistant｜>"
    )


def test_reasoning_is_not_opened_and_a_grammar_governs_from_the_first_token() -> None:
    prompt = _render(_text("user", "Hi"), open_reasoning=True)
    assert not prompt.text.endswith("<think>\n") and not prompt.thinking_open
    constraint = StructuredConstraint(json_object=True)
    engine = _family().constrain(constraint, prompt, "xgrammar")
    assert engine.reasoning_ended and engine.constraint == constraint


def _factory(tools: tuple[ToolSpec, ...]) -> Any:
    setup = ParserSetup(
        prompt=ChatPrompt(text="", token_ids=()), tools=tools, parallel_tool_calls=True
    )
    return _family().parser_factory(_model(), setup)


def test_the_parser_chain_is_think_then_deepseek_calls() -> None:
    chain = _factory((WEATHER,))()
    assert isinstance(chain, ParserChain)
    assert [type(stage) for stage in chain._stages] == [
        Qwen3ReasoningSplitter,
        DeepSeekV3ToolParser,
    ]
    out = chain.feed(
        [],
        "<think>Weather.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
        f"get_weather\n```json\n{ARGS}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    )
    out.extend(chain.finish())
    assert out.reasoning == "Weather." and out.content == ""
    assert [(c.name, c.arguments) for c in out.tool_calls if c.name] == [("get_weather", ARGS)]


@pytest.mark.parametrize(
    ("function", "output", "expected"),
    [
        ("get_weather", ARGS, [("get_weather", ARGS)]),
        (None, f'[{{"name": "get_weather", "arguments": {ARGS}}}]', [("get_weather", ARGS)]),
    ],
)
def test_a_forced_call_is_read_from_the_grammar_constrained_json(
    function: str | None, output: str, expected: list[tuple[str, str]]
) -> None:
    """tool_choice named / required: the family's chain without tools (reasoning only),
    then the forced stage, as service/prepare.py builds it."""
    ids = itertools.count()
    forced = ForcedToolCallParser(function, new_call_id=lambda: f"call_{next(ids)}")
    chain = ParserChain((_factory(())(), forced))
    out = ParsedDelta()
    tokenizer = deepseek_v3_tokenizer()
    for token_id in tokenizer.encode(output, add_special_tokens=False):
        out.extend(chain.feed([token_id], tokenizer.decode([token_id])))
    out.extend(chain.finish())
    names = [c.name for c in out.tool_calls if c.name]
    arguments: dict[int, str] = {}
    for part in out.tool_calls:
        arguments[part.index] = arguments.get(part.index, "") + part.arguments
    assert list(zip(names, arguments.values(), strict=True)) == expected
    assert out.content == ""
