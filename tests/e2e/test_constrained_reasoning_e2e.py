"""Constrained answers on reasoning models, end to end (issue: gpt-oss stray tokens).

Random weights at temperature 1 over 20 seeds: every answer that finishes with `stop`
parses and validates, `content` never holds a harmony marker or think tag, and an answer
cut off before its JSON is `length` with empty content. Stream and non-stream agree.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from tests.e2e.conftest import OSS, QWEN
from tests.e2e.test_reasoning_tools_e2e import post, stream_message
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

POINT = {
    "type": "object",
    "properties": {"x": {"type": "integer"}, "label": {"type": "string", "maxLength": 8}},
    "required": ["x", "label"],
    "additionalProperties": False,
}
FORMATS = {
    "json_schema": {"type": "json_schema", "json_schema": {"name": "point", "schema": POINT}},
    "json_object": {"type": "json_object"},
}
MARKERS = ("<|", "<think>", "</think>")
SEEDS = range(20)


def body(model: str, fmt: str, seed: int, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "A point, as JSON."}],
        "response_format": FORMATS[fmt],
        "max_tokens": 120,
        "temperature": 1.0,
        "seed": seed,
        **extra,
    }


def check_answer(content: str | None, finish: str, fmt: str) -> bool:
    """True when the answer reached its JSON (finish `stop`)."""
    text = content or ""
    assert not any(marker in text for marker in MARKERS), text
    if finish == "length":
        return False
    assert finish == "stop", finish
    value = json.loads(text)
    if fmt == "json_schema":
        jsonschema.validate(value, POINT)
    else:
        assert isinstance(value, dict)
    return True


CASES = [
    ("oss_server", OSS, {}),
    ("oss_server", OSS, {"reasoning_effort": "high"}),
    ("oss_server", OSS, {"reasoning_effort": "none"}),
    ("qwen_server", QWEN, {}),
    ("qwen_server", QWEN, {"reasoning_effort": "none"}),
]


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize(
    ("fixture", "model", "extra"), CASES, ids=["oss", "oss-high", "oss-none", "qwen", "qwen-none"]
)
def test_constrained_answers_parse_on_every_seed(
    request: pytest.FixtureRequest, fixture: str, model: str, extra: dict[str, Any], fmt: str
) -> None:
    server: LiveServer = request.getfixturevalue(fixture)
    reached = 0
    for seed in SEEDS:
        whole = post(server, body(model, fmt, seed, extra))
        assert whole.status_code == 200, whole.text
        choice = whole.json()["choices"][0]
        reached += check_answer(choice["message"]["content"], choice["finish_reason"], fmt)
        if seed < 5:
            streamed, _ = stream_message(
                post(server, {**body(model, fmt, seed, extra), "stream": True})
            )
            assert streamed["content"] == (choice["message"]["content"] or "")
            assert streamed["finish_reason"] == choice["finish_reason"]
    if extra.get("reasoning_effort") == "none":
        # No reasoning: the grammar holds from the first token, so some answers end within
        # max_tokens even on random weights (others run out inside a long number).
        assert reached > 0


def test_gpt_oss_forced_tools_with_reasoning_validate(oss_server: LiveServer) -> None:
    from tests.e2e.test_reasoning_tools_e2e import TOOLS, assert_valid_calls

    for seed in range(10):
        response = post(
            oss_server,
            {
                "model": OSS,
                "messages": [{"role": "user", "content": "Weather in Paris?"}],
                "tools": TOOLS,
                "tool_choice": "required",
                "max_tokens": 300,
                "temperature": 1.0,
                "seed": seed,
            },
        )
        assert response.status_code == 200, response.text
        choice = response.json()["choices"][0]
        content = choice["message"]["content"] or ""
        assert not any(marker in content for marker in MARKERS)
        if choice["finish_reason"] == "tool_calls":
            assert_valid_calls(choice["message"]["tool_calls"])
        else:
            assert choice["finish_reason"] == "length" and not choice["message"].get("tool_calls")


def test_reasoning_cut_short_is_length_with_empty_content(
    request: pytest.FixtureRequest,
) -> None:
    for fixture, model in (("qwen_server", QWEN), ("oss_server", OSS)):
        server: LiveServer = request.getfixturevalue(fixture)
        response = httpx.post(
            server.v1 + "/chat/completions",
            json=body(model, "json_schema", 0, {"max_tokens": 3}),
            timeout=120,
        )
        assert response.status_code == 200, response.text
        choice = response.json()["choices"][0]
        assert choice["finish_reason"] == "length"
        assert not any(m in (choice["message"]["content"] or "") for m in MARKERS)
