"""The pre-serialized chunk encoders of the OpenAI protocols (the streaming hot path)."""

from __future__ import annotations

from typing import Any

import orjson

from tera_serve.adapters.chat_output import ChatChunkEncoder, ChatOptions
from tera_serve.adapters.completions_output import CompletionChunkEncoder, CompletionOptions
from tera_serve.adapters.openai_stream import StreamOptions, sse_frame
from tera_serve.core.events import Usage
from tera_serve.core.logprobs import PositionLogprobs, TokenLogprob
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.errors import InvalidRequestError
from tera_serve.parsing.base import ParsedDelta, ToolCallDelta
from tests.support.prepared import Steps, scripted_answer

# The pre-serialized chunk encoders (the streaming hot path) must give exactly the bytes of
# the plain dict encoding they replace.


def _answer(logprobs: bool = False) -> PreparedAnswer:
    return scripted_answer(model_id='m/"quoted"', logprobs=logprobs, choice_prompt_tokens=(3, 3))


def _reference_chat(index: int, delta: dict[str, Any], finish: str | None) -> bytes:
    base = {
        "id": "chatcmpl-r1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": 'm/"quoted"',
    }
    choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
    return sse_frame({**base, "choices": [choice]})


def test_chat_chunks_match_the_dict_encoding() -> None:
    encoder = ChatChunkEncoder(_answer(), ChatOptions(reasoning_fields=("reasoning_content",)))
    call = ToolCallDelta(index=0, id="call_1", name="f", arguments='{"a": "é\\n"}')
    step = Steps()
    steps = [
        step(1, ParsedDelta(reasoning="think\u2028")),
        step(1, ParsedDelta(content='say "hi"')),
        step(1, ParsedDelta(tool_calls=[call]), finish="stop"),
        step(0, finish="length"),
    ]
    frames = [frame for s in steps for frame in encoder.frames(s)]
    assert frames == [
        _reference_chat(1, {"role": "assistant", "reasoning_content": "think\u2028"}, None),
        _reference_chat(1, {"content": 'say "hi"'}, None),
        _reference_chat(
            1,
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a": "é\\n"}'},
                    }
                ]
            },
            None,
        ),
        _reference_chat(1, {}, "tool_calls"),
        _reference_chat(0, {"role": "assistant"}, "length"),
    ]


def test_completion_chunks_match_the_dict_encoding() -> None:
    top = TokenLogprob("x", -0.5, (120,))
    position = PositionLogprobs(chosen=top, top=(top,))
    encoder = CompletionChunkEncoder(
        scripted_answer(model_id='m/"quoted"', logprobs=True), CompletionOptions()
    )
    step = Steps()
    first = encoder.frames(step(0, ParsedDelta(content="x"), logprobs=[position]))
    last = encoder.frames(step(0, new_tokens=0, finish="stop"))
    base = {
        "id": "cmpl-r1",
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": 'm/"quoted"',
    }
    logprobs = {
        "tokens": ["x"],
        "token_logprobs": [-0.5],
        "top_logprobs": [{"x": -0.5}],
        "text_offset": [0],
    }
    expected = [
        {"index": 0, "text": "x", "logprobs": logprobs, "finish_reason": None},
        {"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"},
    ]
    assert [*first, *last] == [sse_frame({**base, "choices": [c]}) for c in expected]
    assert orjson.loads(first[0][6:])["choices"][0]["logprobs"] == logprobs


def test_stream_ends_with_usage_then_done() -> None:
    options = ChatOptions(stream=StreamOptions(include_usage=True))
    encoder = ChatChunkEncoder(_answer(), options)
    frames = encoder.end_frames(Usage(prompt_tokens=3, completion_tokens=2))
    assert frames[-1] == b"data: [DONE]\n\n"
    assert orjson.loads(frames[0][6:])["usage"]["total_tokens"] == 5


def test_error_after_start_is_an_error_frame_then_done() -> None:
    encoder = CompletionChunkEncoder(_answer(), CompletionOptions())
    frames = encoder.error_frames(InvalidRequestError("bad", param="x"))
    assert orjson.loads(frames[0][6:])["error"]["param"] == "x"
    assert frames[1] == b"data: [DONE]\n\n"


def test_per_token_chat_frames_match_the_dict_encoding() -> None:
    """The one-piece fast paths (text, reasoning, a call's arguments) frame what the
    general path would."""
    encoder = ChatChunkEncoder(_answer(), ChatOptions(reasoning_fields=("reasoning", "r2")))
    step = Steps()
    start = ToolCallDelta(index=0, id="call_1", name="f", arguments="")
    steps = [
        step(0, ParsedDelta(reasoning="a")),
        step(0, ParsedDelta(reasoning="b\u2028")),
        step(0, ParsedDelta(content="c")),
        step(0, ParsedDelta(content='"d"')),
        step(0, ParsedDelta(tool_calls=[start])),
        step(0, ParsedDelta(tool_calls=[ToolCallDelta(index=0, arguments='{"x": 1}')])),
    ]
    frames = [frame for s in steps for frame in encoder.frames(s)]
    call = {"index": 0, "id": "call_1", "type": "function"}
    assert frames == [
        _reference_chat(0, {"role": "assistant", "reasoning": "a", "r2": "a"}, None),
        _reference_chat(0, {"reasoning": "b\u2028", "r2": "b\u2028"}, None),
        _reference_chat(0, {"content": "c"}, None),
        _reference_chat(0, {"content": '"d"'}, None),
        _reference_chat(
            0, {"tool_calls": [{**call, "function": {"name": "f", "arguments": ""}}]}, None
        ),
        _reference_chat(
            0, {"tool_calls": [{"index": 0, "function": {"arguments": '{"x": 1}'}}]}, None
        ),
    ]
