"""Output items for Codex's tools: a namespaced function's call carries `namespace` and
`name` apart, a custom tool's call its `input` text (streamed as
`response.custom_tool_call_input.delta`s), a reasoning item its `encrypted_content`; stream
and fold agree, and the OpenAI SDK reads both."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tera_serve.adapters.responses_body import OutputRules, ResponseHead
from tera_serve.adapters.responses_output import ResponsesFolder, ResponsesStreamEncoder
from tera_serve.adapters.responses_tools import offered_tools
from tera_serve.core.conversation import Message
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.core.usage import UsageCounter
from tera_serve.parsing.base import ParsedDelta, ToolCallDelta
from tera_serve.protocol.responses import ResponsesRequest
from tests.support.prepared import Raw, as_steps, scripted_answer

PATCH = '*** Begin Patch\n*** Add File: "a".txt\n+x\\y ✓ 😀\n*** End Patch\n'
ARGUMENTS = json.dumps({"input": PATCH})  # ASCII escapes, surrogate pairs included
CRM = {
    "type": "namespace",
    "name": "crm",
    "description": "The CRM.",
    "tools": [
        {"type": "function", "name": "lookup", "parameters": {"type": "object"}},
        {"type": "custom", "name": "note"},
    ],
}
TOOLS = ResponsesRequest.model_validate(
    {"model": "m", "input": "hi", "tools": [CRM, {"type": "custom", "name": "apply_patch"}]}
).tools
RULES = OutputRules(tools=offered_tools(TOOLS), seal=lambda t: f"<{t}>")
SETTINGS = {"tools": [], "tool_choice": "auto", "parallel_tool_calls": True, "metadata": {}}
HEAD = ResponseHead("resp_abc", 0, "m", SETTINGS, RULES)
PREPARED: PreparedAnswer = scripted_answer(
    request_id="abc", created=0, prompt_tokens=7, choice_prompt_tokens=(7,)
)


def _events(size: int) -> list[Raw]:
    pieces = [ARGUMENTS[i : i + size] for i in range(0, len(ARGUMENTS), size)]
    patch = [ToolCallDelta(1, "call_2", "apply_patch", pieces[0])]
    patch += [ToolCallDelta(1, arguments=piece) for piece in pieces[1:]]
    calls = [ToolCallDelta(0, "call_1", "crm.lookup", '{"id": 1}'), *patch]
    events = [Raw(0, ParsedDelta(reasoning="I will look."), None, 1)]
    events += [Raw(0, ParsedDelta(tool_calls=[call]), None, 1) for call in calls]
    events.append(Raw(0, ParsedDelta(), None, 1, finish_reason="tool_calls"))
    return events


def _stream(events: list[Raw]) -> list[dict[str, Any]]:
    encoder = ResponsesStreamEncoder(PREPARED, HEAD, None)
    usage = UsageCounter(prompt_tokens=7)
    frames = encoder.start_frames()
    for event in as_steps(events):
        usage.add(event)
        frames.extend(encoder.frames(event))
    frames.extend(encoder.end_frames(usage.snapshot()))
    data = [f.split(b"\n")[1] for f in b"".join(frames).split(b"\n\n") if f]
    return [orjson.loads(d.removeprefix(b"data: ")) for d in data]


def _fold(events: list[Raw], turns: list[Message] | None = None) -> dict[str, Any]:
    async def keep(response: dict[str, Any], turn: Message) -> None:
        assert turns is not None
        turns.append(turn)

    folder = ResponsesFolder(PREPARED, HEAD, keep if turns is not None else None)
    usage = UsageCounter(prompt_tokens=7)
    for event in as_steps(events):
        usage.add(event)
        folder.add(event)
    body = folder.response(usage.snapshot())
    asyncio.run(folder.complete())
    return body


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 1000])
def test_namespaced_and_custom_calls_however_the_arguments_are_cut(size: int) -> None:
    stream, body = _stream(_events(size)), _fold(_events(size))
    assert stream[-1]["response"] == body
    reasoning, lookup, patch = body["output"]
    assert reasoning["encrypted_content"] == "<I will look.>"
    assert lookup == {
        "id": "fc_abc_1",
        "type": "function_call",
        "call_id": "call_1",
        "namespace": "crm",
        "name": "lookup",
        "arguments": '{"id": 1}',
        "status": "completed",
    }
    assert patch == {
        "id": "ctc_abc_2",
        "type": "custom_tool_call",
        "call_id": "call_2",
        "name": "apply_patch",
        "input": PATCH,
        "status": "completed",
    }
    deltas = [e for e in stream if e["type"] == "response.custom_tool_call_input.delta"]
    assert "".join(e["delta"] for e in deltas) == PATCH
    assert len(deltas) > 1 or size == 1000  # it streams, not only at the end
    (done,) = [e for e in stream if e["type"] == "response.custom_tool_call_input.done"]
    assert done == {
        "type": "response.custom_tool_call_input.done",
        "item_id": "ctc_abc_2",
        "output_index": 2,
        "input": PATCH,
        "sequence_number": done["sequence_number"],
    }
    assert not [e for e in stream if e["type"].startswith("response.function_call_arguments")][2:]
    # The SDK's types and its stream accumulator take all of it.
    Response.model_validate(body)
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    adapter: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
    for payload in stream:
        handled = state.handle_event(adapter.validate_python(payload))
    final = handled[-1].response
    assert [item.type for item in final.output] == [
        "reasoning",
        "function_call",
        "custom_tool_call",
    ]
    assert final.output[1].namespace == "crm" and final.output[2].input == PATCH
    added = [e["item"] for e in stream if e["type"] == "response.output_item.added"]
    assert "encrypted_content" not in added[0] and added[2]["input"] == ""


def test_the_turn_keeps_the_names_the_model_called() -> None:
    turns: list[Message] = []
    _fold(_events(4), turns)
    (turn,) = turns
    assert [(c.name, c.arguments) for c in turn.tool_calls] == [
        ("crm.lookup", '{"id": 1}'),
        ("apply_patch", ARGUMENTS),
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"input": "cut sh', "cut sh"),  # max tokens: what came is the input
        ('{"other": 1, "input": "late"}', "late"),  # another shape: read whole at the end
        ("plain words", "plain words"),  # not JSON: the text as written
    ],
)
def test_custom_input_of_any_shape_is_never_lost(arguments: str, expected: str) -> None:
    call = ToolCallDelta(0, "call_1", "crm.note", arguments)
    events = [
        Raw(0, ParsedDelta(tool_calls=[call]), None, 1),
        Raw(0, ParsedDelta(), None, 1, finish_reason="length"),
    ]
    stream = _stream(events)
    (item,) = _fold(events)["output"]
    assert (item["namespace"], item["name"], item["input"]) == ("crm", "note", expected)
    assert item["status"] == "incomplete"
    deltas = [e["delta"] for e in stream if e["type"] == "response.custom_tool_call_input.delta"]
    assert "".join(deltas) == expected


def test_no_seal_no_encrypted_content() -> None:
    head = ResponseHead("resp_abc", 0, "m", {}, OutputRules())
    folder = ResponsesFolder(PREPARED, head, None)
    (step,) = as_steps([Raw(0, ParsedDelta(reasoning="r"), None, 1, finish_reason="stop")])
    folder.add(step)
    (item,) = folder.response(UsageCounter(prompt_tokens=7).snapshot())["output"]
    assert item["type"] == "reasoning" and "encrypted_content" not in item


def test_a_name_the_client_never_offered_stays_whole() -> None:
    call = ToolCallDelta(0, "call_1", "foo.bar", "{}")
    events = [
        Raw(0, ParsedDelta(tool_calls=[call]), None, 1),
        Raw(0, ParsedDelta(), None, 1, finish_reason="tool_calls"),
    ]
    (item,) = _fold(events)["output"]
    assert (item["type"], item["name"]) == ("function_call", "foo.bar")
    assert "namespace" not in item
    assert _stream(events)[-1]["response"]["output"] == [item]
