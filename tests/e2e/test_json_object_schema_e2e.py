"""`response_format: {"type": "json_object", "schema": {...}}` end to end (issue 23).

instructor's JSON_SCHEMA mode (and other llama.cpp clients) send the schema beside
`json_object`. The tiny random Qwen3 writes gibberish unless constrained, so an answer that
validates against the schema can only come from the grammar being enforced.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from tests.e2e.conftest import QWEN
from tests.support.live_server import LiveServer
from tests.support.schemas import SCHEMAS

pytestmark = pytest.mark.e2e

NAMES = ("flat", "nested", "array_of_enums", "optional_fields")
NO_THINKING = {"chat_template_kwargs": {"enable_thinking": False}}


def client_for(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.v1, api_key="unused", timeout=120, max_retries=0)


def ask(client: openai.OpenAI, name: str, seed: int, stream: bool) -> tuple[str, str | None]:
    """One request in instructor's JSON_SCHEMA shape, through the OpenAI SDK as it sends it."""
    fields: dict[str, Any] = {
        "model": QWEN,
        "messages": [{"role": "user", "content": f"Give me a {name} object."}],
        "response_format": {"type": "json_object", "schema": SCHEMAS[name]},
        "max_tokens": 200,
        "temperature": 1.0,
        "seed": seed,
        "extra_body": NO_THINKING,
    }
    if not stream:
        choice = client.chat.completions.create(**fields).choices[0]
        return choice.message.content or "", choice.finish_reason
    text, finish = "", None
    for chunk in client.chat.completions.create(**fields, stream=True):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    return text, finish


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_json_object_with_a_schema_validates(qwen_server: LiveServer, stream: bool) -> None:
    client = client_for(qwen_server)
    failures = []
    for seed, name in enumerate(NAMES):
        text, finish = ask(client, name, seed, stream)
        try:
            assert finish == "stop", finish
            jsonschema.validate(json.loads(text), SCHEMAS[name])
        except (ValueError, jsonschema.ValidationError, AssertionError) as exc:
            failures.append((name, text, finish, str(exc)[:200]))
    assert not failures, failures


def test_responses_json_object_with_a_schema_validates(qwen_server: LiveServer) -> None:
    schema = SCHEMAS["flat"]
    body = {
        "model": QWEN,
        "input": "Give me a flat object.",
        "text": {"format": {"type": "json_object", "schema": schema}},
        "max_output_tokens": 200,
        "reasoning": {"effort": "none"},
    }
    response = httpx.post(qwen_server.v1 + "/responses", json=body, timeout=120)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "completed", answer
    (message,) = [item for item in answer["output"] if item["type"] == "message"]
    jsonschema.validate(json.loads(message["content"][0]["text"]), schema)


def test_a_bad_schema_is_refused_before_generation(qwen_server: LiveServer) -> None:
    body = {
        "model": QWEN,
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_object", "schema": {"type": "strin"}},
    }
    response = httpx.post(qwen_server.v1 + "/chat/completions", json=body, timeout=120)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "response_format.schema"
