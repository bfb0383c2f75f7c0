"""response_format enforced by guided decoding, for every backend, on a random-weight model.

The tiny Qwen3's unconstrained output is gibberish, so valid JSON can only come from the
grammar.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.support.live_server import CPU_TEST_ENGINE_ARGS, LiveServer, live_server
from tests.support.schemas import SCHEMAS

pytestmark = pytest.mark.e2e

MODEL = "tera-test/tiny-qwen3"
NO_THINKING = {"enable_thinking": False}
BACKENDS = ("xgrammar", "guidance", "outlines")


@pytest.fixture(scope="module", params=BACKENDS)
def backend_server(
    request: pytest.FixtureRequest, tiny_qwen3_dir: Path
) -> Iterator[tuple[str, LiveServer]]:
    args = [
        "--model",
        str(tiny_qwen3_dir),
        "--served-model-name",
        MODEL,
        "--structured-output-backend",
        request.param,
        *CPU_TEST_ENGINE_ARGS,
    ]
    with live_server(args, f"structured-{request.param}") as server:
        yield request.param, server


def schema_request(name: str, schema: dict[str, Any], seed: int, stream: bool) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"Give me a {name} object."}],
        "max_tokens": 200,
        "seed": seed,
        "temperature": 1.0,
        "stream": stream,
        "chat_template_kwargs": NO_THINKING,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        },
    }


def content_of(response: httpx.Response, stream: bool) -> tuple[str, str | None]:
    assert response.status_code == 200, response.text
    if not stream:
        choice = response.json()["choices"][0]
        return choice["message"]["content"], choice["finish_reason"]
    text, finish = "", None
    for frame in response.text.split("\n\n"):
        if not frame.startswith("data: {"):
            continue
        chunk = json.loads(frame[6:])
        assert "error" not in chunk, chunk
        for choice in chunk["choices"]:
            text += choice["delta"].get("content") or ""
            finish = choice["finish_reason"] or finish
    return text, finish


BOUND_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def without_bounds(schema: Any) -> Any:
    """The schema minus numeric bounds (what the outlines backend can enforce)."""
    if isinstance(schema, dict):
        return {k: without_bounds(v) for k, v in schema.items() if k not in BOUND_KEYWORDS}
    if isinstance(schema, list):
        return [without_bounds(v) for v in schema]
    return schema


def schemas_for(backend: str) -> dict[str, Any]:
    return {n: without_bounds(s) for n, s in SCHEMAS.items()} if backend == "outlines" else SCHEMAS


def test_fifty_schema_requests_validate(backend_server: tuple[str, LiveServer]) -> None:
    backend, server = backend_server
    schemas = schemas_for(backend)
    names = sorted(schemas)
    failures = []
    with httpx.Client(timeout=120) as http:
        for i in range(50):
            name = names[i % len(names)]
            stream = i % 2 == 1
            response = http.post(
                server.v1 + "/chat/completions", json=schema_request(name, schemas[name], i, stream)
            )
            text, finish = content_of(response, stream)
            try:
                jsonschema.validate(json.loads(text), schemas[name])
                assert finish == "stop"
            except (ValueError, jsonschema.ValidationError, AssertionError) as exc:
                failures.append((backend, name, stream, text, finish, str(exc)[:200]))
    assert not failures, failures


def test_backend_refuses_what_it_cannot_enforce(backend_server: tuple[str, LiveServer]) -> None:
    backend, server = backend_server
    body = schema_request("bounded", SCHEMAS["bounded_numbers"], 1, False)
    response = httpx.post(server.v1 + "/chat/completions", json=body, timeout=120)
    if backend == "outlines":
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "response_format" and "minimum" in error["message"]
    else:
        text, _ = content_of(response, False)
        jsonschema.validate(json.loads(text), SCHEMAS["bounded_numbers"])


def test_json_object_mode_gives_an_object(backend_server: tuple[str, LiveServer]) -> None:
    backend, server = backend_server
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "JSON please"}],
        "max_tokens": 400,
        "chat_template_kwargs": NO_THINKING,
        "response_format": {"type": "json_object"},
        "temperature": 0,
    }
    response = httpx.post(server.v1 + "/chat/completions", json=body, timeout=120)
    if backend == "outlines":  # vLLM's outlines backend has no JSON mode: refused up front
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "response_format"
        return
    text, finish = content_of(response, False)
    if finish == "stop":
        assert isinstance(json.loads(text), dict)
    else:  # a random model may write one endless string; what it wrote is still JSON-shaped
        assert text.startswith("{")


def test_reasoning_is_kept_and_json_lands_in_content(
    backend_server: tuple[str, LiveServer],
) -> None:
    backend, server = backend_server
    if backend != "xgrammar":
        pytest.skip("reasoning + grammar is the same engine path for every backend")
    schema = SCHEMAS["flat"]
    for stream in (False, True):
        body = schema_request("flat", schema, 7, stream)
        body.pop("chat_template_kwargs")
        body["thinking_token_budget"] = 12
        response = httpx.post(server.v1 + "/chat/completions", json=body, timeout=120)
        if stream:
            reasoning, content, seen_content = "", "", False
            for frame in response.text.split("\n\n"):
                if frame.startswith("data: {"):
                    for choice in json.loads(frame[6:])["choices"]:
                        delta = choice["delta"]
                        if delta.get("reasoning_content"):
                            assert not seen_content, "reasoning after content"
                            reasoning += delta["reasoning_content"]
                        if delta.get("content"):
                            seen_content = True
                            content += delta["content"]
        else:
            message = response.json()["choices"][0]["message"]
            reasoning, content = message["reasoning_content"], message["content"]
            assert response.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] >= 12
        assert reasoning and "<think>" not in content and "</think>" not in content
        jsonschema.validate(json.loads(content), schema)


BAD_SCHEMAS: list[tuple[str, Any, str]] = [
    (
        "not a JSON Schema",
        {"type": "object", "properties": {"a": {"type": "strin"}}},
        "not a valid JSON Schema",
    ),
    ("schema is a list", [1, 2], "must be a JSON object"),
    (
        "too large",
        {
            "type": "object",
            "properties": {
                f"p{i}": {"type": "string", "description": "x" * 200} for i in range(400)
            },
        },
        "bytes",
    ),
    (
        "too deep",
        json.loads('{"type":"object","properties":{"a":' * 20 + '{"type":"integer"}' + "}}" * 20),
        "deeper",
    ),
    (
        "unsupported by xgrammar",
        {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
        "uniqueItems",
    ),
]


def test_bad_schemas_get_400_while_a_request_runs(backend_server: tuple[str, LiveServer]) -> None:
    backend, server = backend_server
    if backend != "xgrammar":
        pytest.skip("the table is backend-independent except its last row, written for xgrammar")
    outcome: dict[str, Any] = {}

    def long_request() -> None:
        body = schema_request("nested", SCHEMAS["nested"], 3, True)
        body["max_tokens"] = 300
        response = httpx.post(server.v1 + "/chat/completions", json=body, timeout=120)
        outcome["value"] = content_of(response, True)

    worker = threading.Thread(target=long_request)
    worker.start()
    for name, schema, message in BAD_SCHEMAS:
        body = schema_request("bad", schema, 1, False)
        response = httpx.post(server.v1 + "/chat/completions", json=body, timeout=60)
        assert response.status_code == 400, (name, response.text)
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == "response_format", (
            name,
            error,
        )
        assert message in error["message"], (name, error["message"])
    missing = httpx.post(
        server.v1 + "/chat/completions",
        json={**schema_request("x", {}, 1, False), "response_format": {"type": "json_schema"}},
    )
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "response_format"
    worker.join(120)
    text, finish = outcome["value"]
    jsonschema.validate(json.loads(text), SCHEMAS["nested"])
    assert finish == "stop"
