"""`response_format: {"type": "json_object", "schema": {...}}` (llama.cpp's extension, sent
by instructor's JSON_SCHEMA mode) is enforced as `json_schema` is: the same bounds and
checks, refusals naming `response_format.schema`, and never dropped (DESIGN rule 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tera_serve.config import ModelConfig
from tera_serve.engine.base import EngineRequest, EngineRequestError, StructuredConstraint
from tests.support.fake_app import FAKE_MODEL_ID, fake_server

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
MESSAGES = [{"role": "user", "content": "Extract: Jason is 25 years old."}]


def chat(response_format: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "model": FAKE_MODEL_ID,
        "messages": MESSAGES,
        "response_format": response_format,
        **fields,
    }


def nested(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize("stream", [False, True])
async def test_json_object_with_a_schema_is_constrained_to_it(
    smollm_dir: Path, stream: bool
) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        r = await client.post(
            "/v1/chat/completions",
            json=chat({"type": "json_object", "schema": SCHEMA}, stream=stream),
        )
        assert r.status_code == 200, r.text
        assert engine.requests[-1].sampling.structured == StructuredConstraint(json_schema=SCHEMA)


async def test_json_object_without_a_schema_stays_json_mode(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        r = await client.post("/v1/chat/completions", json=chat({"type": "json_object"}))
        assert r.status_code == 200, r.text
        assert engine.requests[-1].sampling.structured == StructuredConstraint(json_object=True)


async def test_the_same_schema_in_both_places_is_one_constraint(smollm_dir: Path) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "user", "schema": SCHEMA}}
    async with fake_server(smollm_dir) as (client, engine, _):
        r = await client.post("/v1/chat/completions", json=chat({**fmt, "schema": SCHEMA}))
        assert r.status_code == 200, r.text
        assert engine.requests[-1].sampling.structured == StructuredConstraint(json_schema=SCHEMA)


BAD_SCHEMAS: list[tuple[str, Any, str]] = [
    ("not a JSON Schema", {"type": "object", "properties": {"a": {"type": "strin"}}}, "valid"),
    ("a list", [1, 2], "JSON object"),
    ("a string", '{"type": "object"}', "JSON object"),
    (
        "too large",
        {"type": "object", "properties": {f"p{i}": {"description": "x" * 200} for i in range(400)}},
        "bytes",
    ),
    (
        "too many values",
        {"enum": list(range(5000))},
        "values",
    ),
    ("too deep", nested(20), "deeper"),
]


@pytest.mark.parametrize(
    ("schema", "message"), [(s, m) for _, s, m in BAD_SCHEMAS], ids=[n for n, _, _ in BAD_SCHEMAS]
)
async def test_a_bad_schema_is_a_400_naming_response_format_schema(
    smollm_dir: Path, schema: Any, message: str
) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        r = await client.post(
            "/v1/chat/completions", json=chat({"type": "json_object", "schema": schema})
        )
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["param"] == "response_format.schema", error
        assert message in error["message"]
        assert engine.requests == []


@pytest.mark.parametrize(
    "fmt",
    [
        {"type": "text", "schema": SCHEMA},
        {
            "type": "json_schema",
            "json_schema": {"name": "user", "schema": SCHEMA},
            "schema": {"type": "object"},
        },
    ],
    ids=["text with a schema", "two different schemas"],
)
async def test_a_schema_that_would_be_dropped_is_refused(
    smollm_dir: Path, fmt: dict[str, Any]
) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        r = await client.post("/v1/chat/completions", json=chat(fmt))
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"].startswith("response_format")
        assert engine.requests == []


async def test_a_backend_that_cannot_enforce_the_schema_refuses_it(smollm_dir: Path) -> None:
    model = ModelConfig(
        model=str(smollm_dir), served_model_name=FAKE_MODEL_ID, structured_output_backend="outlines"
    )
    bounded = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}
    async with fake_server(smollm_dir, model=model) as (client, engine, _):
        r = await client.post(
            "/v1/chat/completions", json=chat({"type": "json_object", "schema": bounded})
        )
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["param"] == "response_format.schema" and "minimum" in error["message"]
        assert engine.requests == []


async def test_a_schema_the_engine_cannot_compile_names_response_format_schema(
    smollm_dir: Path,
) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):

        def refuse(request: EngineRequest) -> None:
            raise EngineRequestError("grammar compilation failed")

        engine.validate = refuse  # type: ignore[method-assign]
        r = await client.post(
            "/v1/chat/completions", json=chat({"type": "json_object", "schema": SCHEMA})
        )
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == "response_format.schema"
        assert engine.requests == []


async def test_a_plain_json_object_the_engine_refuses_names_response_format(
    smollm_dir: Path,
) -> None:
    """Without a schema there is no `schema` to name (outlines has no JSON mode)."""
    async with fake_server(smollm_dir) as (client, engine, _):

        def refuse(request: EngineRequest) -> None:
            raise EngineRequestError("outlines has no JSON mode")

        engine.validate = refuse  # type: ignore[method-assign]
        r = await client.post("/v1/chat/completions", json=chat({"type": "json_object"}))
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == "response_format"


async def test_responses_json_object_with_a_schema_is_constrained_to_it(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, engine, _):
        body = {"model": FAKE_MODEL_ID, "input": "Extract: Jason is 25."}
        r = await client.post(
            "/v1/responses",
            json={**body, "text": {"format": {"type": "json_object", "schema": SCHEMA}}},
        )
        assert r.status_code == 200, r.text
        assert engine.requests[-1].sampling.structured == StructuredConstraint(json_schema=SCHEMA)
        bad = {"type": "json_object", "schema": {"type": "strin"}}
        r = await client.post("/v1/responses", json={**body, "text": {"format": bad}})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == "text.format.schema"
