"""Messages stream encoder and fold: the same blocks from the same events, in order."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tera_serve.adapters.messages_output import MessagesFolder, MessagesStreamEncoder
from tera_serve.errors import RateLimitError
from tera_serve.parsing.base import ParsedDelta, ToolCallDelta
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.usage import UsageCounter
from tests.support.prepared import scripted_prepared


def _prepared() -> PreparedGeneration:
    return scripted_prepared(
        request_id="abc", response_id="msg_abc", prompt_tokens=7, reasoning_fields=("reasoning",)
    )


EVENTS = [
    ChoiceEvent(0, ParsedDelta(reasoning="Let me "), None, 1),
    ChoiceEvent(0, ParsedDelta(reasoning="think."), None, 1),
    ChoiceEvent(0, ParsedDelta(content="Calling."), None, 1),
    ChoiceEvent(0, ParsedDelta(tool_calls=[ToolCallDelta(0, "call_1", "get", '{"a"')]), None, 1),
    ChoiceEvent(0, ParsedDelta(tool_calls=[ToolCallDelta(0, arguments=": 1}")]), None, 1),
    ChoiceEvent(
        0,
        ParsedDelta(tool_calls=[ToolCallDelta(1, "call_2", "put", "{}")]),
        None,
        1,
        finish_reason="tool_calls",
    ),
]


def _decode(frames: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in b"".join(frames).split(b"\n\n"):
        if not frame:
            continue
        event, data = frame.split(b"\n")
        out.append((event.removeprefix(b"event: ").decode(), orjson.loads(data[6:])))
    return out


def _replay_stream(events: list[ChoiceEvent]) -> list[tuple[str, dict[str, Any]]]:
    encoder = MessagesStreamEncoder(_prepared())
    usage = UsageCounter(prompt_tokens=7)
    frames = encoder.start_frames()
    for event in events:
        usage.add(event)
        frames.extend(encoder.frames(event))
    return _decode(frames + encoder.end_frames(usage))


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
    folder = MessagesFolder(_prepared())
    for event in merged:
        folder.add(event)
    body = folder.response()
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
    first = MessagesFolder(_prepared())
    first.add(ChoiceEvent(0, ParsedDelta(reasoning="a"), None, 1, finish_reason="stop"))
    second = MessagesFolder(_prepared())
    second.add(ChoiceEvent(0, ParsedDelta(reasoning="b"), None, 1, finish_reason="stop"))
    signatures = {f.response()["content"][0]["signature"] for f in (first, second)}
    assert len(signatures) == 2


@pytest.mark.parametrize(
    ("finish", "stop", "expected"),
    [("stop", None, "end_turn"), ("length", None, "max_tokens"), ("stop", "END", "stop_sequence")],
)
def test_stop_reasons(finish: str, stop: str | None, expected: str) -> None:
    folder = MessagesFolder(_prepared())
    folder.add(
        ChoiceEvent(0, ParsedDelta(content="x"), None, 1, finish_reason=finish, stop_sequence=stop)
    )
    body = folder.response()
    assert (body["stop_reason"], body["stop_sequence"]) == (expected, stop)


def test_error_after_start_is_an_error_event() -> None:
    frames = MessagesStreamEncoder(_prepared()).error_frames(RateLimitError("slow down"))
    assert _decode(frames) == [
        ("error", {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    ]


def test_text_deltas_are_the_bytes_of_the_dict_encoding() -> None:
    encoder = MessagesStreamEncoder(_prepared())
    encoder.start_frames()
    for kind, field, text in (("thinking", "thinking", 'a "q"\u2028'), ("text", "text", "é\n")):
        frames = encoder.frames(
            ChoiceEvent(
                0, ParsedDelta(**{"reasoning" if kind == "thinking" else "content": text}), None, 1
            )
        )
        delta = {"type": f"{kind}_delta", field: text}
        payload = {"type": "content_block_delta", "index": encoder._index, "delta": delta}
        assert frames[-1] == b"event: content_block_delta\ndata: " + orjson.dumps(payload) + b"\n\n"


def test_usage_input_figures_add_up_to_the_prompt() -> None:
    """A prefix-cache hit moves tokens from `input_tokens` to `cache_read_input_tokens`;
    it never counts them twice (Claude Code sums the three to size its context)."""
    cached = [ChoiceEvent(0, ParsedDelta(content="Hi"), None, 1, cached_tokens=5)]
    folder = MessagesFolder(_prepared())
    for event in cached:
        folder.add(event)
    for usage in (_replay_stream(cached)[-2][1]["usage"], folder.response()["usage"]):
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
    encoder = MessagesStreamEncoder(_prepared(), omit_thinking=True)
    usage = UsageCounter(prompt_tokens=7)
    frames = encoder.start_frames()
    for event in EVENTS:
        usage.add(event)
        frames.extend(encoder.frames(event))
    stream = _decode(frames + encoder.end_frames(usage))
    deltas = [data["delta"]["type"] for name, data in stream if name == "content_block_delta"]
    assert "thinking_delta" not in deltas and deltas[0] == "signature_delta"
    assert stream[2][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    folder = MessagesFolder(_prepared(), omit_thinking=True)
    for event in EVENTS:
        folder.add(event)
    body = folder.response()
    assert _rebuild(stream) == body["content"]
    shown = MessagesFolder(_prepared())
    for event in EVENTS:
        shown.add(event)
    full = shown.response()["content"]
    assert body["content"][0] == {**full[0], "thinking": ""}
    assert body["content"][1:] == full[1:]
    assert usage.completion_tokens == len(EVENTS)  # the thinking tokens still count
