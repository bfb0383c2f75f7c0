"""The Responses routes in process (FakeEngine): stream and non-stream answer the same
response, the store continues conversations and is scoped to the key that created them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.responses import Response

from tests.support.fake_app import FAKE_MODEL_ID, fake_server
from tests.unit.security.support import bearer, make_keys_file

BODY = {"model": FAKE_MODEL_ID, "input": "hi", "instructions": "Be kind."}


def _events(text: str) -> list[dict[str, Any]]:
    out = []
    for frame in text.split("\n\n"):
        if frame:
            out.append(orjson.loads(frame.split("\ndata: ", 1)[1]))
    return out


async def test_stream_and_fold_agree(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, _engine, _):
        whole = await client.post("/v1/responses", json=BODY)
        assert whole.status_code == 200, whole.text
        body = Response.model_validate(whole.json())
        assert body.id.startswith("resp_") and body.status == "completed"
        assert body.output_text == "Hello there, friend." and body.instructions == "Be kind."
        assert body.usage is not None and body.usage.input_tokens > 0
        streamed = await client.post("/v1/responses", json={**BODY, "stream": True})
        assert streamed.headers["content-type"].startswith("text/event-stream")
        events = _events(streamed.text)
        final = events[-1]["response"]
        assert events[-1]["type"] == "response.completed"
        deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
        assert "".join(deltas) == body.output_text
        for field in ("output", "usage", "status", "tools", "text"):
            if field == "output":
                assert [i["content"] for i in final["output"]] == [
                    i["content"] for i in whole.json()["output"]
                ]
            else:
                assert final[field] == whole.json()[field], field
        stored = await client.get(f"/v1/responses/{final['id']}")
        assert stored.json() == final


async def test_previous_response_id_is_scoped_to_its_key(smollm_dir: Path, tmp_path: Path) -> None:
    secrets = make_keys_file(tmp_path / "keys.yaml", {"alice": {}, "bob": {}})
    alice, bob = bearer(secrets["alice"]), bearer(secrets["bob"])
    overrides = {"keys_file": str(tmp_path / "keys.yaml")}
    async with fake_server(smollm_dir, server_overrides=overrides) as (client, engine, app):
        first = (await client.post("/v1/responses", json=BODY, headers=alice)).json()
        follow = {"model": FAKE_MODEL_ID, "input": "more", "previous_response_id": first["id"]}
        second = await client.post("/v1/responses", json=follow, headers=alice)
        assert second.status_code == 200, second.text
        assert second.json()["previous_response_id"] == first["id"]
        tokenizer = app.state.context.registry.get(FAKE_MODEL_ID).tokenizer
        prompt = tokenizer.decode(engine.requests[1].prompt_token_ids)
        # The first turn and its answer come back; its instructions do not (as OpenAI's).
        assert "hi" in prompt and "Hello there, friend." in prompt and "more" in prompt
        assert "Be kind." not in prompt
        items = await client.get(f"/v1/responses/{second.json()['id']}/input_items", headers=alice)
        assert [i["content"][0]["text"] for i in items.json()["data"]] == ["more"]
        for path in (f"/v1/responses/{first['id']}", f"/v1/responses/{first['id']}/input_items"):
            assert (await client.get(path, headers=bob)).status_code == 404
        stolen = await client.post("/v1/responses", json=follow, headers=bob)
        assert stolen.status_code == 404
        assert stolen.json()["error"]["param"] == "previous_response_id"
        deleted = await client.delete(f"/v1/responses/{first['id']}", headers=alice)
        assert deleted.json() == {"id": first["id"], "object": "response", "deleted": True}
        assert (await client.get(f"/v1/responses/{first['id']}", headers=alice)).status_code == 404


async def test_store_false_keeps_nothing_and_errors_are_openai_shaped(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, _engine, _):
        answer = (await client.post("/v1/responses", json={**BODY, "store": False})).json()
        assert answer["store"] is False
        assert (await client.get(f"/v1/responses/{answer['id']}")).status_code == 404
        tool = await client.post("/v1/responses", json={**BODY, "tools": [{"type": "web_crawl"}]})
        assert tool.status_code == 400
        assert tool.json()["error"]["param"] == "tools[0].type"
        assert "web_crawl" in tool.json()["error"]["message"]
        short = await client.post("/v1/responses", json={**BODY, "max_output_tokens": 2})
        assert short.json()["status"] == "incomplete"
        assert short.json()["incomplete_details"] == {"reason": "max_output_tokens"}
        assert short.json()["usage"]["output_tokens"] == 2


FULL = {
    "model": FAKE_MODEL_ID,
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "c", "name": "get", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "ok"},
        {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "r"}]},
    ],
    "instructions": "sys",
    "tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}}],
    "tool_choice": "auto",
    "text": {"format": {"type": "json_object"}},
    "reasoning": {"effort": "low"},
    "max_output_tokens": 4,
    "metadata": {"k": "v"},
}
ODD_VALUES: list[Any] = [None, 0, -1, 1.5, "x", "", [], {}, [{}], [None], {"type": 1}, True]


async def test_malformed_fields_are_4xx_in_openai_shape(smollm_dir: Path) -> None:
    from tests.unit.security.support import is_contract_error

    async with fake_server(smollm_dir) as (client, engine, app):
        ok = await client.post("/v1/responses", json=FULL)
        assert ok.status_code == 200, ok.text
        statuses: set[int] = set()
        for field in FULL:
            for value in ODD_VALUES:
                for body in (
                    {**FULL, field: value},
                    {**FULL, "input": [{**FULL["input"][1], "call_id": value}]},
                    {**FULL, "input": [{"type": value, "role": "user", "content": "x"}]},
                    {**FULL, "tools": [{"type": "function", "name": "g", "parameters": value}]},
                ):
                    answer = await client.post("/v1/responses", json=body)
                    statuses.add(answer.status_code)
                    assert answer.status_code < 500, (body, answer.text)
                    if answer.status_code >= 400:
                        assert is_contract_error(answer.json()), answer.text
        assert 400 in statuses
        assert app.state.context.security.in_flight == 0
        assert engine.unfinished_requests() == 0


async def test_a_file_store_outlives_the_server(smollm_dir: Path, tmp_path: Path) -> None:
    """Streamed and stored before its last event; a second server on the file answers."""
    overrides = {"responses_store": str(tmp_path / "responses.sqlite3")}
    async with fake_server(smollm_dir, server_overrides=overrides) as (client, _engine, app):
        streamed = await client.post("/v1/responses", json={**BODY, "stream": True})
        final = _events(streamed.text)[-1]["response"]
        await app.state.context.responses.close()
    async with fake_server(smollm_dir, server_overrides=overrides) as (client, _engine, _):
        assert (await client.get(f"/v1/responses/{final['id']}")).json() == final
        follow = {"model": FAKE_MODEL_ID, "input": "more", "previous_response_id": final["id"]}
        assert (await client.post("/v1/responses", json=follow)).status_code == 200


async def test_a_store_failure_still_delivers_the_answer(
    smollm_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with fake_server(smollm_dir) as (client, _engine, app):
        store = app.state.context.responses

        async def broken(*_args: Any) -> bool:
            raise sqlite3.OperationalError("disk I/O error")

        store.put = broken
        for stream in (False, True):
            answer = await client.post("/v1/responses", json={**BODY, "stream": stream})
            assert answer.status_code == 200
            assert "Hello there, friend." in answer.text
        assert caplog.text.count("was not stored") == 2
        body = (await client.post("/v1/responses", json=BODY)).json()
        assert (await client.get(f"/v1/responses/{body['id']}")).status_code == 404


async def test_ignore_eos_reaches_the_engine(smollm_dir: Path) -> None:
    """tera-serve's `ignore_eos` extension (the frontend benchmark's fixed-length streams)."""
    async with fake_server(smollm_dir) as (client, engine, _):
        for ignore in (False, True):
            answer = await client.post("/v1/responses", json={**BODY, "ignore_eos": ignore})
            assert answer.status_code == 200, answer.text
            assert engine.requests[-1].sampling.ignore_eos is ignore
        refused = await client.post("/v1/responses", json={**BODY, "ignore_eos": "sometimes"})
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == "ignore_eos"


async def test_a_store_path_that_cannot_be_used_stops_the_start_up(
    smollm_dir: Path, tmp_path: Path
) -> None:
    from tera_serve.config import ModelConfig, ServerConfig
    from tera_serve.errors import ConfigError
    from tera_serve.http.context import ServerContext
    from tera_serve.http.startup import open_response_store

    config = ServerConfig(
        models=(ModelConfig(model=str(smollm_dir)),),
        responses_store=str(tmp_path / "missing" / "responses.sqlite3"),
    )
    context = ServerContext(config=config, engine_factory=lambda *_: None)
    with pytest.raises(ConfigError, match="missing"):
        await open_response_store(context)
