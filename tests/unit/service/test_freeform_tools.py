"""Freeform (custom) tools with a grammar: enforced by guided decoding when tool_choice
names the tool, refused when the model could call it unforced; the forced answer is read
back as the call's one string argument."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tera_serve.adapters.responses import responses_conversation
from tera_serve.core.conversation import FREEFORM_KEY, Conversation
from tera_serve.engine.base import StructuredConstraint
from tera_serve.errors import InvalidRequestError
from tera_serve.parsing.forced_tools import ForcedToolCallParser
from tera_serve.protocol.responses import ResponsesRequest
from tera_serve.service.schema_bounds import MAX_SCHEMA_BYTES
from tera_serve.service.tool_choice import forced_tools

LARK = 'start: "*** Begin Patch" LF line+ "*** End Patch"\nline: /.+/ LF\n%import common.LF'


def _custom(syntax: str = "lark", definition: str = LARK) -> dict[str, Any]:
    fmt = {"type": "grammar", "syntax": syntax, "definition": definition}
    return {"type": "custom", "name": "apply_patch", "format": fmt}


FUNCTION = {"type": "function", "name": "ls", "parameters": {"type": "object"}}


def _conversation(tools: list[dict[str, Any]], choice: Any = None) -> Conversation:
    body: dict[str, Any] = {"model": "m", "input": "hi", "tools": tools}
    if choice is not None:
        body["tool_choice"] = choice
    return responses_conversation(ResponsesRequest.model_validate(body))


NAMED = {"type": "custom", "name": "apply_patch"}


@pytest.mark.parametrize(
    ("syntax", "expected"),
    [("lark", StructuredConstraint(grammar=LARK)), ("regex", StructuredConstraint(regex="[a-z]+"))],
)
def test_a_named_grammar_tool_is_enforced(syntax: str, expected: StructuredConstraint) -> None:
    definition = LARK if syntax == "lark" else "[a-z]+"
    forced = forced_tools(_conversation([FUNCTION, _custom(syntax, definition)], NAMED), "xgrammar")
    assert forced is not None and forced.constraint == expected
    assert forced.function_name == "apply_patch" and forced.freeform
    assert forced.param == "tools[1].format"


@pytest.mark.parametrize("choice", [None, "auto", "required"])
def test_a_grammar_tool_the_model_may_call_unforced_is_refused(choice: Any) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        forced_tools(_conversation([FUNCTION, _custom()], choice), "xgrammar")
    assert caught.value.param == "tools[1].format"
    assert "lark grammar" in caught.value.message and "tool_choice" in caught.value.message


def test_a_grammar_tool_that_cannot_be_called_is_fine() -> None:
    assert forced_tools(_conversation([FUNCTION, _custom()], "none"), "xgrammar") is None
    other = {"type": "function", "name": "ls"}
    forced = forced_tools(_conversation([FUNCTION, _custom()], other), "xgrammar")
    assert forced is not None and forced.constraint.json_schema == {"type": "object"}


def test_a_text_custom_tool_is_forced_as_its_one_string_argument() -> None:
    tool = {"type": "custom", "name": "note"}
    forced = forced_tools(_conversation([tool], {"type": "custom", "name": "note"}), "xgrammar")
    assert forced is not None and not forced.freeform
    schema = forced.constraint.json_schema
    assert schema is not None and schema["required"] == [FREEFORM_KEY]
    # auto: offered as a function of one string, nothing to enforce.
    assert forced_tools(_conversation([tool], "auto"), "xgrammar") is None


def test_an_oversized_grammar_is_a_400() -> None:
    big = 'start: "' + "a" * MAX_SCHEMA_BYTES + '"'
    with pytest.raises(InvalidRequestError) as caught:
        forced_tools(_conversation([_custom(definition=big)], NAMED), "xgrammar")
    assert caught.value.param == "tools[0].format"


PATCH = '*** Begin Patch\n*** Add File: a "b".txt\n+tab\there \\ ✓\n*** End Patch\n'


@pytest.mark.parametrize("seed", range(20))
def test_the_forced_raw_answer_becomes_the_calls_input_however_it_is_cut(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(PATCH)), rng.randint(0, 12)))
    pieces = [PATCH[a:b] for a, b in zip([0, *cuts], [*cuts, len(PATCH)], strict=True)]
    parser = ForcedToolCallParser("apply_patch", freeform=True)
    deltas = [parser.feed([], piece) for piece in pieces] + [parser.finish()]
    calls = [call for delta in deltas for call in delta.tool_calls]
    assert [c.id is not None for c in calls].count(True) == 1 and calls[0].name == "apply_patch"
    assert json.loads("".join(c.arguments for c in calls)) == {FREEFORM_KEY: PATCH}
    assert all(delta.content == "" for delta in deltas)


def test_an_empty_forced_answer_is_an_empty_input() -> None:
    parser = ForcedToolCallParser("apply_patch", freeform=True)
    (call,) = parser.finish().tool_calls
    assert json.loads(call.arguments) == {FREEFORM_KEY: ""}
