"""Forced tool choice: the constraint built from tools, and reading the JSON back as calls."""

from __future__ import annotations

import itertools
import json

import pytest

from tera_serve.adapters.chat import chat_conversation
from tera_serve.core.conversation import Conversation
from tera_serve.errors import InvalidRequestError
from tera_serve.parsing.base import ParsedDelta
from tera_serve.parsing.forced_tools import ForcedToolCallParser
from tera_serve.protocol.chat import ChatCompletionRequest
from tera_serve.service.tool_choice import MAX_FORCED_CALLS, forced_tools

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [
    {"type": "function", "function": {"name": "weather", "parameters": WEATHER}},
    {"type": "function", "function": {"name": "noargs"}},
]


def request(**fields: object) -> Conversation:
    return chat_conversation(
        ChatCompletionRequest.model_validate(
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": TOOLS, **fields}
        )
    )


def fixed_ids() -> object:
    counter = itertools.count()
    return lambda: f"call_{next(counter)}"


def test_auto_and_none_are_not_forced() -> None:
    assert forced_tools(request(tool_choice="auto"), "xgrammar") is None
    assert forced_tools(request(tool_choice="none"), "xgrammar") is None
    assert forced_tools(request(), "xgrammar") is None


def test_named_function_constrains_to_its_parameters() -> None:
    forced = forced_tools(
        request(tool_choice={"type": "function", "function": {"name": "weather"}}), "xgrammar"
    )
    assert forced is not None and forced.function_name == "weather"
    assert forced.constraint.json_schema == WEATHER
    no_params = forced_tools(
        request(tool_choice={"type": "function", "function": {"name": "noargs"}}), "xgrammar"
    )
    assert no_params is not None and no_params.constraint.json_schema == {"type": "object"}


@pytest.mark.parametrize(("parallel", "max_items"), [(True, MAX_FORCED_CALLS), (False, 1)])
def test_required_constrains_to_a_list_of_offered_calls(parallel: bool, max_items: int) -> None:
    forced = forced_tools(request(tool_choice="required", parallel_tool_calls=parallel), "xgrammar")
    assert forced is not None and forced.function_name is None
    schema = forced.constraint.json_schema
    assert schema is not None and schema["minItems"] == 1 and schema["maxItems"] == max_items
    names = [branch["properties"]["name"]["const"] for branch in schema["items"]["anyOf"]]
    assert names == ["weather", "noargs"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"tool_choice": "required", "tools": None}, "tool_choice"),
        (
            {"tool_choice": "required", "response_format": {"type": "json_object"}},
            "response_format",
        ),
    ],
)
def test_bad_tool_choice(fields: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        forced_tools(request(**fields), "xgrammar")
    assert raised.value.param == param


def feed_all(parser: ForcedToolCallParser, pieces: list[str]) -> ParsedDelta:
    out = ParsedDelta()
    for piece in pieces:
        out.extend(parser.feed([0], piece))
    out.extend(parser.finish())
    return out


def test_named_streams_arguments_and_finishes_as_stop() -> None:
    parser = ForcedToolCallParser("weather", new_call_id=lambda: "call_x")
    first = parser.feed([1], '{"ci')
    assert first.tool_calls[0].id == "call_x" and first.tool_calls[0].name == "weather"
    rest = parser.feed([2], 'ty": "Paris"}')
    assert rest.tool_calls[0].id is None and rest.tool_calls[0].name is None
    assert first.tool_calls[0].arguments + rest.tool_calls[0].arguments == '{"city": "Paris"}'
    assert parser.finish().is_empty()


def test_required_emits_calls_at_the_end() -> None:
    parser = ForcedToolCallParser(None, new_call_id=fixed_ids())  # type: ignore[arg-type]
    text = json.dumps(
        [{"name": "weather", "arguments": {"city": "Rome"}}, {"name": "noargs", "arguments": {}}]
    )
    out = feed_all(parser, [text[:7], text[7:20], text[20:]])
    assert [(c.index, c.id, c.name) for c in out.tool_calls] == [
        (0, "call_0", "weather"),
        (1, "call_1", "noargs"),
    ]
    assert json.loads(out.tool_calls[0].arguments) == {"city": "Rome"}
    assert out.content == ""


def test_required_cut_short_stays_content() -> None:
    parser = ForcedToolCallParser(None)
    out = feed_all(parser, ['[{"name": "weather", "argu'])
    assert out.tool_calls == [] and out.content == '[{"name": "weather", "argu'
