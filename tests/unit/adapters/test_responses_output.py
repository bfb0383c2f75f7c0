"""Responses stream encoder and fold: the same items from the same events, in order, and
the OpenAI SDK's own stream accumulator agrees with the fold."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tera_serve.adapters.responses_body import ResponseHead
from tera_serve.adapters.responses_output import ResponsesFolder, ResponsesStreamEncoder
from tera_serve.core.conversation import Message
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.core.usage import UsageCounter
from tera_serve.errors import ServerError
from tera_serve.parsing.base import ParsedDelta, ToolCallDelta
from tests.support.prepared import Raw, as_steps, scripted_answer

HEAD = ResponseHead(
    "resp_abc",
    0,
    "m",
    {"tools": [], "tool_choice": "auto", "parallel_tool_calls": True, "metadata": {}},
)


def _prepared() -> PreparedAnswer:
    return scripted_answer(request_id="abc", created=0, prompt_tokens=7, choice_prompt_tokens=(7,))


EVENTS = [
    Raw(0, ParsedDelta(reasoning="Let me "), None, 1, cached_tokens=3),
    Raw(0, ParsedDelta(reasoning="think."), None, 1),
    Raw(0, ParsedDelta(content="Calling."), None, 1),
    Raw(0, ParsedDelta(tool_calls=[ToolCallDelta(0, "call_1", "get", '{"a"')]), None, 1),
    Raw(0, ParsedDelta(tool_calls=[ToolCallDelta(0, arguments=": 1}")]), None, 1),
    Raw(
        0,
        ParsedDelta(tool_calls=[ToolCallDelta(1, "call_2", "put", "{}")]),
        None,
        1,
        finish_reason="tool_calls",
        reasoning_tokens=2,
    ),
]


def _stream(events: list[Raw]) -> list[dict[str, Any]]:
    encoder = ResponsesStreamEncoder(_prepared(), HEAD, None)
    usage = UsageCounter(prompt_tokens=7)
    frames = encoder.start_frames()
    for event in as_steps(events):
        usage.add(event)
        frames.extend(encoder.frames(event))
    frames.extend(encoder.end_frames(usage.snapshot()))
    out = []
    for frame in b"".join(frames).split(b"\n\n"):
        if frame:
            name, data = frame.split(b"\n")
            payload = orjson.loads(data.removeprefix(b"data: "))
            assert name.removeprefix(b"event: ").decode() == payload["type"]
            out.append(payload)
    return out


def _fold(events: list[Raw], turns: list[Message] | None = None) -> dict[str, Any]:
    async def keep(response: dict[str, Any], turn: Message) -> None:
        assert turns is not None
        turns.append(turn)

    folder = ResponsesFolder(_prepared(), HEAD, keep if turns is not None else None)
    usage = UsageCounter(prompt_tokens=7)
    for event in as_steps(events):
        usage.add(event)
        folder.add(event)
    body = folder.response(usage.snapshot())
    asyncio.run(folder.complete())
    return body


def test_event_sequence() -> None:
    stream = _stream(EVENTS)
    assert [e["sequence_number"] for e in stream] == list(range(len(stream)))
    assert [e["type"] for e in stream] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert stream[0]["response"]["status"] == "in_progress"
    assert stream[0]["response"]["output"] == [] and stream[0]["response"]["usage"] is None


def test_the_stream_ends_with_the_fold_and_the_sdk_agrees() -> None:
    stream = _stream(EVENTS)
    body = _fold(EVENTS)
    assert stream[-1]["response"] == body
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    adapter: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
    for payload in stream:
        handled = state.handle_event(adapter.validate_python(payload))
    final = handled[-1].response  # the SDK's `get_final_response()`
    assert final.output_text == "Calling."
    assert [item.type for item in final.output] == [item["type"] for item in body["output"]]
    Response.model_validate(body)  # the SDK's own type accepts the folded body
    assert [item["type"] for item in body["output"]] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert body["output"][0]["content"] == [{"type": "reasoning_text", "text": "Let me think."}]
    assert body["output"][1]["content"][0]["text"] == "Calling."
    assert body["output"][2] == {
        "id": "fc_abc_2",
        "type": "function_call",
        "call_id": "call_1",
        "name": "get",
        "arguments": '{"a": 1}',
        "status": "completed",
    }
    assert body["status"] == "completed" and body["incomplete_details"] is None
    assert body["usage"] == {
        "input_tokens": 7,
        "input_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 0},
        "output_tokens": 6,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 13,
    }


def _rebuild(stream: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a client assembles from the deltas alone."""
    items: list[dict[str, Any]] = []
    for event in stream:
        kind = event["type"]
        if kind == "response.output_item.added":
            assert event["output_index"] == len(items)
            items.append({"type": event["item"]["type"], "text": ""})
        elif kind.endswith(".delta"):
            items[event["output_index"]]["text"] += event["delta"]
        elif kind == "response.output_item.done":
            item = event["item"]
            done = item.get("arguments") or "".join(p["text"] for p in item.get("content", []))
            assert done == items[event["output_index"]]["text"]
    return items


@pytest.mark.parametrize("size", [1, 2, 100])
def test_any_split_of_the_deltas_gives_the_same_output(size: int) -> None:
    text, reasoning = "The capital is Paris.", "Easy one."
    events = [
        Raw(0, ParsedDelta(reasoning=reasoning[i : i + size]), None, 1)
        for i in range(0, len(reasoning), size)
    ] + [
        Raw(0, ParsedDelta(content=text[i : i + size]), None, 1) for i in range(0, len(text), size)
    ]
    events.append(Raw(0, ParsedDelta(), None, 0, finish_reason="stop"))
    body = _fold(events)
    assert [item["text"] for item in _rebuild(_stream(events))] == [reasoning, text]
    assert (
        body["output"]
        == _fold(
            [
                Raw(0, ParsedDelta(reasoning=reasoning, content=text), None, 1),
                Raw(0, ParsedDelta(), None, 0, finish_reason="stop"),
            ]
        )["output"]
    )


def test_max_output_tokens_is_incomplete() -> None:
    events = [Raw(0, ParsedDelta(content="Par"), None, 1, finish_reason="length")]
    stream = _stream(events)
    body = _fold(events)
    assert stream[-1]["type"] == "response.incomplete" and stream[-1]["response"] == body
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["status"] == "incomplete"


def test_the_turn_kept_for_previous_response_id() -> None:
    turns: list[Message] = []
    _fold(EVENTS, turns)
    (turn,) = turns
    assert turn.role == "assistant" and turn.text() == "Calling."
    assert turn.reasoning == "Let me think."
    assert [(c.id, c.name, c.arguments) for c in turn.tool_calls] == [
        ("call_1", "get", '{"a": 1}'),
        ("call_2", "put", "{}"),
    ]


def test_a_failure_after_the_start_is_response_failed() -> None:
    encoder = ResponsesStreamEncoder(_prepared(), HEAD, None)
    encoder.start_frames()
    (frame,) = encoder.error_frames(ServerError("engine died"))
    payload = orjson.loads(frame.split(b"\ndata: ")[1])
    assert payload["type"] == "response.failed" and payload["sequence_number"] == 2
    assert payload["response"]["status"] == "failed"
    assert payload["response"]["error"] == {"code": "server_error", "message": "engine died"}


@pytest.mark.parametrize("kind", ["message", "reasoning"])
@pytest.mark.parametrize("text", ["Hi", "", 'é "q" \\ \n\u2028 🌊 \x00', "%d %s"])
def test_text_deltas_from_pre_serialized_heads_are_the_dicts_bytes(kind: str, text: str) -> None:
    from tera_serve.adapters.responses_items import OutputItem
    from tera_serve.adapters.responses_output import TextDelta, _frame

    delta = TextDelta(OutputItem(kind, f'x_%d_{kind}"', 3), text)
    assert delta.frame(41) == _frame({**delta.event(), "sequence_number": 41})
    expected_type = (
        "response.output_text.delta" if kind == "message" else "response.reasoning_text.delta"
    )
    expected = {
        "item_id": f'x_%d_{kind}"',
        "output_index": 3,
        "content_index": 0,
        "type": expected_type,
        "delta": text,
        **({"logprobs": []} if kind == "message" else {}),
        "sequence_number": 41,
    }
    head, data = delta.frame(41).split(b"\ndata: ", 1)
    assert head == b"event: " + expected_type.encode() and data.endswith(b"\n\n")
    assert orjson.loads(data) == expected and list(orjson.loads(data)) == list(expected)


def test_every_streamed_frame_is_orjsons_encoding_of_its_event() -> None:
    """The hot path (`continue_text`) and the dict path frame alike, byte for byte."""
    from tera_serve.adapters.responses_output import _frame

    texts = [Raw(0, ParsedDelta(content='é "q" \n\u2028 🌊'), None, 1)] * 3
    encoder = ResponsesStreamEncoder(_prepared(), HEAD, None)
    frames = encoder.start_frames()
    for event in as_steps([*EVENTS[:3], *texts, *EVENTS[3:]]):
        frames += encoder.frames(event)
    frames += encoder.end_frames(UsageCounter(prompt_tokens=7).snapshot())
    numbers = []
    for frame in frames:
        data = orjson.loads(frame.split(b"\ndata: ", 1)[1])
        assert frame == _frame(data)
        numbers.append(data["sequence_number"])
    assert numbers == list(range(len(frames)))
