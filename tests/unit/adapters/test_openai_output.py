"""The pre-serialized chunk encoders of the OpenAI protocols (the streaming hot path)."""

from __future__ import annotations

from typing import Any

import orjson

from tera_serve.adapters.chat_output import ChatChunkEncoder, sse_frame
from tera_serve.adapters.completions_output import CompletionChunkEncoder
from tera_serve.engine.base import PositionLogprobs, TokenLogprob
from tera_serve.errors import InvalidRequestError
from tera_serve.parsing.base import ParsedDelta, ToolCallDelta
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.usage import UsageCounter
from tests.support.prepared import scripted_prepared

# The pre-serialized chunk encoders (the streaming hot path) must give exactly the bytes of
# the plain dict encoding they replace.


def _prepared(logprobs: bool = False, reasoning: tuple[str, ...] = ()) -> PreparedGeneration:
    return scripted_prepared(model_id='m/"quoted"', logprobs=logprobs, reasoning_fields=reasoning)


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
    encoder = ChatChunkEncoder(_prepared(reasoning=("reasoning_content",)))
    call = ToolCallDelta(index=0, id="call_1", name="f", arguments='{"a": "é\\n"}')
    events = [
        ChoiceEvent(1, ParsedDelta(reasoning="think\u2028"), None, 1),
        ChoiceEvent(1, ParsedDelta(content='say "hi"'), None, 1),
        ChoiceEvent(1, ParsedDelta(tool_calls=[call]), None, 1, finish_reason="tool_calls"),
        ChoiceEvent(0, ParsedDelta(), None, 1, finish_reason="length"),
    ]
    frames = [frame for event in events for frame in encoder.frames(event)]
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
    encoder = CompletionChunkEncoder(_prepared(logprobs=True))
    encoder._offsets = [0]
    first = encoder.frames(ChoiceEvent(0, ParsedDelta(content="x"), [position], 1))
    last = encoder.frames(ChoiceEvent(0, ParsedDelta(), None, 0, finish_reason="stop"))
    base = {
        "id": "chatcmpl-r1",
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
    encoder = ChatChunkEncoder(_prepared())
    frames = encoder.end_frames(UsageCounter(prompt_tokens=3, completion_tokens=2))
    assert frames[-1] == b"data: [DONE]\n\n"
    assert orjson.loads(frames[0][6:])["usage"]["total_tokens"] == 5


def test_error_after_start_is_an_error_frame_then_done() -> None:
    encoder = CompletionChunkEncoder(_prepared())
    frames = encoder.error_frames(InvalidRequestError("bad", param="x"))
    assert orjson.loads(frames[0][6:])["error"]["param"] == "x"
    assert frames[1] == b"data: [DONE]\n\n"
