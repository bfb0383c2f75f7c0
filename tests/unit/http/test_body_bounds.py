"""Each conversation route counts a body's turns and parts before pydantic and the
protocol's translation see it, and translates in the CPU pool, not on the event loop
(issue 24: 50,000 tool_result blocks were validated and translated, on the loop, before
the message count refused them)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tera_serve.engine.fake import FakeEngine
from tera_serve.http import body as body_module
from tera_serve.http import conversation_routes, messages_routes, responses_routes
from tera_serve.service.body_bounds import PARTS_PER_MESSAGE
from tests.support.fake_app import FAKE_MODEL_ID, fake_server

LIMIT = PARTS_PER_MESSAGE * 2048


@dataclass(frozen=True)
class Route:
    path: str
    module: Any
    """The route's module, or None for a conversation route (its translator is its
    endpoint's, in the protocol table)."""
    translator: str
    param: str
    make: Callable[[int], dict[str, Any]]


def _messages(blocks: int) -> dict[str, Any]:
    content = [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}] * blocks
    if not blocks:
        content = [{"type": "text", "text": "hi"}]
    return {
        "model": FAKE_MODEL_ID,
        "max_tokens": 4,
        "messages": [{"role": "user", "content": content}],
    }


def _responses(items: int) -> dict[str, Any]:
    return {"model": FAKE_MODEL_ID, "input": [{"role": "user", "content": "hi"}] * max(items, 1)}


def _chat(parts: int) -> dict[str, Any]:
    content = [{"type": "text", "text": "hi"}] * max(parts, 1)
    return {"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": content}]}


ROUTES = {
    "messages": Route("/v1/messages", None, "translate", "messages", _messages),
    "count_tokens": Route(
        "/v1/messages/count_tokens", messages_routes, "messages_conversation", "messages", _messages
    ),
    "responses": Route(
        "/v1/responses", responses_routes, "responses_translation", "input", _responses
    ),
    "chat": Route("/v1/chat/completions", None, "translate", "messages", _chat),
}


@dataclass
class Spy:
    """Records the threads a wrapped function ran on."""

    threads: list[threading.Thread] = field(default_factory=list)

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def spied(*args: Any) -> Any:
            self.threads.append(threading.current_thread())
            return fn(*args)

        return spied


async def _spied_post(
    route: Route, parts: int, smollm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[httpx.Response, Spy, Spy, FakeEngine]:
    """POST the route's body of `parts`, watching its translator and pydantic's validation."""
    translate, validate = Spy(), Spy()
    if route.module is None:
        endpoints = tuple(
            dataclasses.replace(e, translate=translate.wrap(e.translate))
            if e.path == route.path
            else e
            for e in conversation_routes.CONVERSATION_ENDPOINTS
        )
        monkeypatch.setattr(conversation_routes, "CONVERSATION_ENDPOINTS", endpoints)
    else:
        original = getattr(route.module, route.translator)
        monkeypatch.setattr(route.module, route.translator, translate.wrap(original))
    monkeypatch.setattr(body_module, "validate_body", validate.wrap(body_module.validate_body))
    async with fake_server(smollm_dir) as (client, engine, _):
        response = await client.post(route.path, json=route.make(parts))
    return response, translate, validate, engine


@pytest.mark.parametrize("name", list(ROUTES))
async def test_too_many_parts_are_refused_before_validation_and_translation(
    name: str, smollm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = ROUTES[name]
    response, translate, validate, engine = await _spied_post(
        route, LIMIT + 1, smollm_dir, monkeypatch
    )
    assert response.status_code == 400, response.text
    message = f"holds more than {LIMIT} turns, content parts and tool calls together"
    error = response.json()["error"]
    assert message in error["message"]
    if route.path.startswith("/v1/messages"):
        assert response.json()["type"] == "error"
        assert error["type"] == "invalid_request_error"
    else:
        assert error["param"] == route.param
    assert validate.threads == [] and translate.threads == []
    assert engine.requests == []


@pytest.mark.parametrize("name", list(ROUTES))
async def test_translation_runs_in_the_cpu_pool(
    name: str, smollm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.current_thread()
    response, translate, validate, _ = await _spied_post(ROUTES[name], 0, smollm_dir, monkeypatch)
    assert response.status_code == 200, response.text
    assert len(translate.threads) == 1 and len(validate.threads) == 1
    assert translate.threads[0] is not loop_thread
    assert translate.threads[0].name.startswith("tera-cpu")


async def test_the_message_count_still_applies_after_translation(smollm_dir: Path) -> None:
    """Under the part bound, a turn of 3,000 tool_result blocks is 3,000 messages: the
    count after translation refuses it as before, with its param."""
    async with fake_server(smollm_dir) as (client, _engine, _):
        response = await client.post("/v1/messages", json=_messages(3000))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == "At most 2048 messages are allowed."


async def test_stored_input_is_kept_as_sent(smollm_dir: Path) -> None:
    """The Responses store keeps what the pool made of the input: the items and the
    messages it continues from (instructions left out)."""
    body = {**_responses(2), "instructions": "Be brief."}
    async with fake_server(smollm_dir) as (client, engine, _):
        first = await client.post("/v1/responses", json=body)
        assert first.status_code == 200, first.text
        response_id = first.json()["id"]
        items = (await client.get(f"/v1/responses/{response_id}/input_items")).json()["data"]
        later = {"model": FAKE_MODEL_ID, "input": "again", "previous_response_id": response_id}
        second = await client.post("/v1/responses", json=later)
        assert second.status_code == 200, second.text
    assert [item["role"] for item in items] == ["user", "user"]
    assert items[0]["id"] == f"in_{response_id.removeprefix('resp_')}_0"
    from transformers import AutoTokenizer

    prompt = AutoTokenizer.from_pretrained(str(smollm_dir)).decode(
        engine.requests[1].prompt_token_ids
    )
    assert prompt.count("hi") == 2 and "again" in prompt and "Be brief." not in prompt
