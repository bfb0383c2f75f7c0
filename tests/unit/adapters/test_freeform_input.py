"""A freeform call's `{"input": ...}` arguments: one encoding (core/conversation.py) that the
replayed call, the grammar-forced answer and the streamed decoder all share, and a
decoder whose Python work per delta does not grow with the delta's plain text."""

from __future__ import annotations

import json
import random
import sys
from types import FrameType
from typing import Any

import pytest

from tera_serve.adapters.freeform_input import FreeformStream, whole_input
from tera_serve.adapters.responses import input_messages
from tera_serve.core.conversation import freeform_arguments, freeform_text
from tera_serve.parsing.forced_tools import ForcedToolCallParser
from tera_serve.protocol.responses import ResponsesRequest

TEXTS = ["", "plain", 'a "quoted" \\ back/slash\n\ttab', "ünïcode ✓ 😀", "\x00\x1f\u2028", "\ud800"]


@pytest.mark.parametrize("text", TEXTS)
def test_the_one_encoding_round_trips_and_is_what_every_site_writes(text: str) -> None:
    arguments = freeform_arguments(text)
    assert arguments == json.dumps({"input": text}, ensure_ascii=False)
    assert freeform_text(arguments) == text
    # A replayed custom_tool_call goes back to the model as these arguments.
    item = {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": text}
    body = ResponsesRequest.model_validate({"model": "m", "input": [item]})
    (turn,) = input_messages(body)
    assert turn.tool_calls[0].arguments == arguments
    # A grammar-forced answer, however it is cut, is wrapped the same way.
    rng = random.Random(len(text))
    cuts = sorted(rng.sample(range(1, len(text)), min(3, len(text) - 1))) if text else []
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    parser = ForcedToolCallParser("apply_patch", freeform=True)
    deltas = [parser.feed([], piece) for piece in pieces] + [parser.finish()]
    assert "".join(c.arguments for d in deltas for c in d.tool_calls) == arguments
    if "\ud800" not in text:  # a lone surrogate is replaced on the way out
        assert whole_input(arguments) == text


def test_other_shapes_are_not_freeform_text() -> None:
    assert freeform_text('{"other": 1}') is None
    assert freeform_text('{"input": 5}') is None
    assert freeform_text("not json") is None
    assert freeform_text('{"other": 1, "input": "late"}') == "late"


def _steps(stream: FreeformStream, piece: str) -> int:
    """Python-level events while one piece is decoded (a count of the interpreter's work,
    where time would flake on a loaded machine)."""
    steps = 0

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal steps
        steps += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        stream.feed(piece)
    finally:
        sys.settrace(previous)
    return steps


def test_plain_runs_are_decoded_in_c_not_per_character() -> None:
    short, long = FreeformStream(), FreeformStream()
    short.feed('{"input": "')
    long.feed('{"input": "')
    small = _steps(short, "ab\\ncd")
    big = _steps(long, "a" * 20_000 + "\\n" + "c" * 20_000)
    assert big < small + 20  # 6,000x the text, the same few steps
    assert long.decoded == "a" * 20_000 + "\n" + "c" * 20_000
