"""Body bounds (tera_serve/service/body_bounds.py): measured on the bytes and the parsed
body before pydantic, cheap whatever the body holds, and exact where it matters."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import orjson
import pytest

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.errors import InvalidRequestError
from tera_serve.service.body_bounds import (
    MAX_BODY_VALUES,
    PARTS_PER_MESSAGE,
    check_json_text,
    check_list_lengths,
    count_turn_parts,
    json_text_depth_exceeds,
)
from tera_serve.service.schema_bounds import json_depth_exceeds

SERVER = ServerConfig(models=(ModelConfig(model="m"),))


def _random_value(rng: random.Random, depth: int) -> Any:
    if depth > 12 or rng.random() < 0.3:
        return rng.choice([1, 'a[{"', '\\"[', None, "}]", "é[\u2028", 2.5])
    if rng.random() < 0.5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {f"k{i}[": _random_value(rng, depth + 1) for i in range(rng.randint(0, 3))}


def test_text_depth_agrees_with_the_walk() -> None:
    rng = random.Random(7)
    for limit in (1, 2, 3, 5, 8, 64):
        for _ in range(200):
            value = {"x": _random_value(rng, 1)}
            for text in (json.dumps(value).encode(), orjson.dumps(value)):
                assert json_text_depth_exceeds(text, limit) == json_depth_exceeds(value, limit)


def python_steps(fn: Callable[..., object], *args: object) -> int:
    """Python-level events (calls, lines, returns, exceptions) while `fn(*args)` runs: a
    count of the interpreter's work, where time would flake on a loaded machine."""
    steps = 0

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal steps
        steps += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        fn(*args)
    except InvalidRequestError:
        pass
    finally:
        sys.settrace(previous)
    return steps


def test_text_depth_is_cheap_on_hostile_shapes() -> None:
    """A walk over these takes seconds; the text check does the same few Python steps
    whatever the size (its work per byte is numpy's, in C)."""
    shapes = [
        b"[" + b"1," * 3_499_999 + b"1]",
        b"[" + b",".join([b"[" * 60 + b"]" * 60] * 60_000) + b"]",
        b'["' + b'\\"[' * 2_000_000 + b'"]',
    ]
    for raw in shapes:
        assert not json_text_depth_exceeds(raw, 64)
        small = python_steps(json_text_depth_exceeds, raw[:5000], 64)
        assert python_steps(json_text_depth_exceeds, raw, 64) < 2 * small  # 1,000x the bytes
    # The count sees per-value work where there is some: the walk, over 2,000 values.
    assert python_steps(json_depth_exceeds, [[1]] * 1000, 64) > 2000
    assert json_text_depth_exceeds(b"[" * 65 + b"]" * 65, 64)


def test_body_values_are_counted_before_parsing() -> None:
    check_json_text(b'{"text": "' + b"a, " * MAX_BODY_VALUES + b'"}', 64)  # commas in a string
    check_json_text(b"[" + b"1," * (MAX_BODY_VALUES - 2) + b"1]", 64)
    small = python_steps(check_json_text, b'{"p": [' + b'"hi",' * 1000 + b"1]}", 64)
    for hostile in (b"[" + b"1," * 3_499_999 + b"1]", b'{"p": [' + b'"hi",' * 1_500_000 + b"1]}"):
        with pytest.raises(InvalidRequestError, match="JSON values"):
            check_json_text(hostile, 64)
        # No Python work per value (parsing these holds the GIL for a second): the refusal
        # takes the same few steps as a small body's check.
        assert python_steps(check_json_text, hostile, 64) < 2 * small
    with pytest.raises(InvalidRequestError, match="deeper"):
        check_json_text(b"[" * 100_000, 64)


PARTS_LIMIT = PARTS_PER_MESSAGE * SERVER.max_messages


def _turn(**fields: Any) -> dict[str, Any]:
    return {"role": "user", **fields}


def _tool_results(count: int) -> dict[str, Any]:
    blocks = [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}] * count
    return {"model": "m", "max_tokens": 1, "messages": [_turn(content=blocks)]}


def _tool_result_blocks(count: int) -> dict[str, Any]:
    inner = [{"type": "text", "text": "x"}] * count
    return {"messages": [_turn(content=[{"type": "tool_result", "content": inner}])]}


def _input_items(count: int) -> dict[str, Any]:
    return {"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}] * count}


def _input_parts(count: int) -> dict[str, Any]:
    return {"input": [_turn(content=[{"type": "input_text", "text": "x"}] * count)]}


def _reasoning_summary(count: int) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": "x"}] * count
    return {"input": [{"type": "reasoning", "summary": summary}]}


def _chat_parts(count: int) -> dict[str, Any]:
    return {"messages": [_turn(content=[{"type": "text", "text": "x"}] * count)]}


def _chat_tool_calls(count: int) -> dict[str, Any]:
    calls = [{"function": {"name": "f"}}] * count
    return {"messages": [{"role": "assistant", "tool_calls": calls}]}


def _system_blocks(count: int) -> dict[str, Any]:
    return {"messages": [], "system": [{"type": "text", "text": "x"}] * count}


@pytest.mark.parametrize(
    ("make", "param"),
    [
        (_tool_results, "messages"),  # Messages: each tool_result is a message once translated
        (_tool_result_blocks, "messages"),
        (_input_items, "input"),  # Responses
        (_input_parts, "input"),
        (_reasoning_summary, "input"),
        (_chat_parts, "messages"),  # chat
        (_chat_tool_calls, "messages"),
        (_system_blocks, "system"),
    ],
)
def test_turn_parts_are_counted_before_validation(
    make: Callable[[int], dict[str, Any]], param: str
) -> None:
    check_list_lengths(make(PARTS_LIMIT // 2 - 2), SERVER)
    with pytest.raises(InvalidRequestError) as refused:
        check_list_lengths(make(PARTS_LIMIT + 1), SERVER)
    assert refused.value.param == param
    assert str(PARTS_LIMIT) in refused.value.message


def test_turn_part_count_stops_at_the_limit() -> None:
    assert count_turn_parts(_tool_results(3)["messages"], 100) == 4
    shapes = [_turn(content=[{"type": "text"}] * 3, tool_calls=[{}])] * 5
    assert count_turn_parts(shapes, 100) == 25
    assert count_turn_parts([{"input": "x"}] * 1_000_000, 10) == 11
    # The count's work does not grow past the limit: 100x the blocks, the same steps.
    just_over = python_steps(check_list_lengths, _tool_results(PARTS_LIMIT + 1), SERVER)
    huge = python_steps(check_list_lengths, _tool_results(100 * PARTS_LIMIT), SERVER)
    assert huge == just_over


def test_turn_parts_scale_with_max_messages() -> None:
    small = ServerConfig(models=SERVER.models, max_messages=4)
    check_list_lengths(_tool_results(PARTS_PER_MESSAGE * 4 - 1), small)
    with pytest.raises(InvalidRequestError, match=str(PARTS_PER_MESSAGE * 4)):
        check_list_lengths(_tool_results(PARTS_PER_MESSAGE * 4), small)
