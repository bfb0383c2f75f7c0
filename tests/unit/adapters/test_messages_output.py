"""Messages stream encoder and fold: the same blocks from the same events, in order."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tera_serve.adapters.messages_output import (
    MessagesFolder,
    MessagesOptions,
    MessagesStreamEncoder,
)
from tera_serve.core.events import Step
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.core.usage import UsageCounter
from tera_serve.errors import RateLimitError
from tera_serve.parsing.base import ParsedDelta, ToolCallDelta
from tests.support.prepared import Steps, scripted_answer

PLAIN = MessagesOptions()
OMITTED = MessagesOptions(omit_thinking=True)


def _answer() -> PreparedAnswer:
    return scripted_answer(request_id="abc", prompt_tokens=7, choice_prompt_tokens=(7,))


def _events() -> list[Step]:
    step = Steps()
    return [
        step(0, ParsedDelta(reasoning="Let me ")),
        step(0, ParsedDelta(reasoning="think.")),
        step(0, ParsedDelta(content="Calling.")),
        step(0, ParsedDelta(tool_calls=[ToolCallDelta(0, "call_1", "get", '{"a"')])),
        step(0, ParsedDelta(tool_calls=[ToolCallDelta(0, arguments=": 1}")])),
        step(0, ParsedDelta(tool_calls=[ToolCallDelta(1, "call_2", "put", "{}")]), finish="stop"),
    ]


EVENTS = _events()


def _fold(steps: list[Step], options: MessagesOptions = PLAIN) -> dict[str, Any]:
    folder = MessagesFolder(_answer(), options)
    usage = UsageCounter(prompt_tokens=7)
    for step in steps:
        usage.add(step)
        folder.add(step)
    return folder.response(usage.snapshot())


def _decode(frames: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in b"".join(frames).split(b"\n\n"):
        if not frame:
            continue
        event, data = frame.split(b"\n")
        out.append((event.removeprefix(b"event: ").decode(), orjson.loads(data[6:])))
    return out


def _replay_stream(
    events: list[Step], options: MessagesOptions = PLAIN
) -> list[tuple[str, dict[str, Any]]]:
    encoder = MessagesStreamEncoder(_answer(), options)
    usage = UsageCounter(prompt_tokens=7)
    frames = encoder.start_frames()
    for event in events:
        usage.add(event)
        frames.extend(encoder.frames(event))
    return _decode(frames + encoder.end_frames(usage.snapshot()))


def _rebuild(stream: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """What an Anthropic client assembles from the events."""
    blocks: list[dict[str, Any]] = []
    for name, data in stream:
        if name == "content_block_start":
            assert data["index"] == len(blocks)
            blocks.append(dict(data["content_block"]))
        elif name == "content_block_delta":
            block, delta = blocks[data["index"]], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            else:
                block["partial"] = block.get("partial", "") + delta["partial_json"]
    for block in blocks:
        if "partial" in block:
            block["input"] = orjson.loads(block.pop("partial"))
    return blocks


def test_event_sequence_and_blocks() -> None:
    stream = _replay_stream(EVENTS)
    names = [name for name, _ in stream]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 4
    assert stream[0][1]["message"]["usage"]["input_tokens"] == 7
    assert stream[-2][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert stream[-2][1]["usage"]["output_tokens"] == 6


@pytest.mark.parametrize("cut", [1, 3, len(EVENTS)])
def test_stream_rebuilds_to_the_fold(cut: int) -> None:
    # Events merged differently (fewer, larger deltas) must give the same message.
    merged = [*EVENTS[: cut - 1]]
    tail = EVENTS[cut - 1 :]
    merged.extend(tail)
    body = _fold(merged)
    assert _rebuild(_replay_stream(merged)) == body["content"]
    assert [b["type"] for b in body["content"]] == ["thinking", "text", "tool_use", "tool_use"]
    assert body["content"][0]["thinking"] == "Let me think."
    assert body["content"][2] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "get",
        "input": {"a": 1},
    }
    assert body["stop_reason"] == "tool_use" and body["id"] == "msg_abc"


def test_signature_depends_on_the_thinking_text() -> None:
    signatures = {
        _fold([Steps()(0, ParsedDelta(reasoning=text), finish="stop")])["content"][0]["signature"]
        for text in ("a", "b")
    }
    assert len(signatures) == 2


@pytest.mark.parametrize(
    ("finish", "stop", "expected"),
    [("stop", None, "end_turn"), ("length", None, "max_tokens"), ("stop", "END", "stop_sequence")],
)
def test_stop_reasons(finish: Any, stop: str | None, expected: str) -> None:
    body = _fold([Steps()(0, ParsedDelta(content="x"), finish=finish, stop_sequence=stop)])
    assert (body["stop_reason"], body["stop_sequence"]) == (expected, stop)


def test_error_after_start_is_an_error_event() -> None:
    frames = MessagesStreamEncoder(_answer(), PLAIN).error_frames(RateLimitError("slow down"))
    assert _decode(frames) == [
        ("error", {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    ]


def test_text_deltas_are_the_bytes_of_the_dict_encoding() -> None:
    encoder = MessagesStreamEncoder(_answer(), PLAIN)
    encoder.start_frames()
    step = Steps()
    cases = (("thinking", "thinking", 'a "q"\u2028', 0), ("text", "text", "é\n", 1))
    for kind, field, text, index in cases:
        frames = encoder.frames(
            step(0, ParsedDelta(**{"reasoning" if kind == "thinking" else "content": text}))
        )
        delta = {"type": f"{kind}_delta", field: text}
        payload = {"type": "content_block_delta", "index": index, "delta": delta}
        assert frames[-1] == b"event: content_block_delta\ndata: " + orjson.dumps(payload) + b"\n\n"


def test_usage_input_figures_add_up_to_the_prompt() -> None:
    """A prefix-cache hit moves tokens from `input_tokens` to `cache_read_input_tokens`;
    it never counts them twice (Claude Code sums the three to size its context)."""
    cached = [Steps()(0, ParsedDelta(content="Hi"), cached_tokens=5, finish="stop")]
    stream = _replay_stream(cached)
    started = stream[0][1]["message"]["usage"]
    for usage in (started, stream[-2][1]["usage"], _fold(cached)["usage"]):
        assert usage["cache_read_input_tokens"] == 5
        assert usage["input_tokens"] == 2
        assert (
            usage["input_tokens"]
            + usage["cache_read_input_tokens"]
            + usage["cache_creation_input_tokens"]
            == 7
        )


def test_display_omitted_keeps_the_block_and_its_signature_without_text() -> None:
    """`thinking.display: "omitted"`: the thinking block starts with empty text, gets no
    `thinking_delta`, and closes with the signature of the text it did not show; the fold
    is the same block."""
    stream = _replay_stream(EVENTS, OMITTED)
    deltas = [data["delta"]["type"] for name, data in stream if name == "content_block_delta"]
    assert "thinking_delta" not in deltas and deltas[0] == "signature_delta"
    assert stream[2][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    body = _fold(EVENTS, OMITTED)
    assert _rebuild(stream) == body["content"]
    full = _fold(EVENTS)["content"]
    assert body["content"][0] == {**full[0], "thinking": ""}
    assert body["content"][1:] == full[1:]
    assert stream[-2][1]["usage"]["output_tokens"] == len(EVENTS)  # thinking tokens count
