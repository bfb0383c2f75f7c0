"""Keys, scopes and per-key limits through the in-process app (FakeEngine)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from tera_serve.playground import PUBLIC_PATHS
from tera_serve.security.middleware import OPEN_PATHS
from tests.support.fake_app import FAKE_MODEL_ID, fake_server
from tests.unit.security.support import bearer, is_contract_error, make_keys_file

KEY_SPECS: dict[str, dict[str, Any]] = {
    "alice": {},
    "scoped": {"models": ("other/model",)},
    "limited": {"rpm": 5, "tpm": 1_000_000},
    "tokens": {"tpm": 10},
    "single": {"max_concurrency": 1},
}
CHAT = {"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "keys.yaml"
    return path, make_keys_file(path, KEY_SPECS)


def route_calls(app: FastAPI) -> list[tuple[str, str]]:
    """(method, concrete path) for every registered route."""
    calls = []
    for route in app.routes:
        if not isinstance(route, Route):
            continue
        path = route.path_format.replace("{model_id}", FAKE_MODEL_ID)
        calls += [(method, path) for method in sorted(route.methods or ())]
    return calls


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["x-tera-request-id"]
    if response.request.method == "HEAD":
        return
    body = response.json()
    if response.request.url.path.startswith("/v1/messages"):
        # Anthropic's routes answer in Anthropic's error shape.
        assert body == {
            "type": "error",
            "error": {"type": "authentication_error", "message": "missing or invalid API key"},
        }
        return
    assert is_contract_error(body)
    assert body["error"]["type"] == "authentication_error"
    assert body["error"]["message"] == "missing or invalid API key"


async def test_route_walk_every_route_needs_a_key(
    smollm_dir: Path, keys: tuple[Path, dict[str, str]]
) -> None:
    path, secrets = keys
    async with fake_server(smollm_dir, server_overrides={"keys_file": str(path)}) as (
        client,
        _,
        app,
    ):
        calls = route_calls(app)
        paths = {p for _, p in calls}
        assert {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health"} <= paths
        assert "/openapi.json" in paths and "/metrics" in paths
        wrong = [
            {},
            bearer("sk-tera-wrong"),
            bearer(""),
            {"Authorization": secrets["alice"]},  # no scheme
            {"Authorization": f"Basic {secrets['alice']}"},
            {"x-api-key": "sk-tera-nope"},
        ]
        for method, route_path in [*calls, ("GET", "/no/such/route")]:
            for headers in wrong:
                response = await client.request(method, route_path, headers=headers, json=CHAT)
                if route_path in OPEN_PATHS or route_path in PUBLIC_PATHS:
                    assert response.status_code != 401, (method, route_path)
                else:
                    assert_401(response)
            good = await client.request(
                method, route_path, headers=bearer(secrets["alice"]), json=CHAT
            )
            assert good.status_code != 401, (method, route_path, good.text)


async def test_x_api_key_and_scope(smollm_dir: Path, keys: tuple[Path, dict[str, str]]) -> None:
    path, secrets = keys
    async with fake_server(smollm_dir, server_overrides={"keys_file": str(path)}) as (
        client,
        _,
        _app,
    ):
        ok = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"x-api-key": secrets["alice"]}
        )
        assert ok.status_code == 200, ok.text
        scoped = bearer(secrets["scoped"])
        for url, body in (
            ("/v1/chat/completions", CHAT),
            ("/v1/completions", {"model": FAKE_MODEL_ID, "prompt": "x", "max_tokens": 2}),
            ("/tokenize", {"model": FAKE_MODEL_ID, "prompt": "x"}),
        ):
            denied = await client.post(url, json=body, headers=scoped)
            assert denied.status_code == 403, denied.text
            error = denied.json()["error"]
            assert is_contract_error(denied.json())
            assert (error["type"], error["param"]) == ("permission_error", "model")
        assert (await client.get(f"/v1/models/{FAKE_MODEL_ID}", headers=scoped)).status_code == 403
        listed = await client.get("/v1/models", headers=scoped)
        assert listed.status_code == 200 and listed.json()["data"] == []
        everything = await client.get("/v1/models", headers=bearer(secrets["alice"]))
        assert [m["id"] for m in everything.json()["data"]] == [FAKE_MODEL_ID]
        # Scope is checked before the model lookup: nothing about other models leaks.
        unknown = await client.post(
            "/v1/chat/completions", json={**CHAT, "model": "no/such"}, headers=scoped
        )
        assert unknown.status_code == 403


async def test_rpm_five_of_eight(smollm_dir: Path, keys: tuple[Path, dict[str, str]]) -> None:
    path, secrets = keys
    async with fake_server(smollm_dir, server_overrides={"keys_file": str(path)}) as (
        client,
        _,
        _app,
    ):
        headers = bearer(secrets["limited"])
        responses = [
            await client.post("/v1/chat/completions", json=CHAT, headers=headers) for _ in range(8)
        ]
        statuses = [r.status_code for r in responses]
        assert statuses == [200] * 5 + [429] * 3, statuses
        remaining = [int(r.headers["x-ratelimit-remaining-requests"]) for r in responses[:5]]
        assert remaining == [4, 3, 2, 1, 0]
        for response in responses:
            for kind in ("requests", "tokens"):
                for part in ("limit", "remaining", "reset"):
                    assert response.headers[f"x-ratelimit-{part}-{kind}"]
        for response in responses[5:]:
            assert 1 <= int(response.headers["retry-after"]) <= 60
            assert is_contract_error(response.json())
            assert response.json()["error"]["type"] == "rate_limit_error"
        # Other keys are not affected; the open route still answers.
        alice = await client.post(
            "/v1/chat/completions", json=CHAT, headers=bearer(secrets["alice"])
        )
        assert alice.status_code == 200 and "x-ratelimit-limit-requests" not in alice.headers
        assert (await client.get("/health")).status_code == 200


async def test_tpm_and_concurrency(smollm_dir: Path, keys: tuple[Path, dict[str, str]]) -> None:
    path, secrets = keys
    async with fake_server(
        smollm_dir,
        server_overrides={"keys_file": str(path)},
        engine_kwargs={"step_delay_s": 0.05},
    ) as (client, _, _app):
        tokens = bearer(secrets["tokens"])
        first = await client.post("/v1/chat/completions", json=CHAT, headers=tokens)
        assert first.status_code == 200
        used = first.json()["usage"]["total_tokens"]
        assert used > 10
        second = await client.post("/v1/chat/completions", json=CHAT, headers=tokens)
        assert second.status_code == 429, second.text
        assert second.json()["error"]["code"] == "tpm_limit_exceeded"
        assert second.headers["x-ratelimit-remaining-tokens"] == "0"

        single = bearer(secrets["single"])
        both = await asyncio.gather(
            client.post("/v1/chat/completions", json=CHAT, headers=single),
            client.post("/v1/chat/completions", json=CHAT, headers=single),
        )
        assert sorted(r.status_code for r in both) == [200, 429]
        after = await client.post("/v1/chat/completions", json=CHAT, headers=single)
        assert after.status_code == 200  # the slot came back when the first response ended


async def test_single_api_key(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir, server_overrides={"api_key": "sk-tera-simple"}) as (
        client,
        _,
        _app,
    ):
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 401
        ok = await client.post("/v1/chat/completions", json=CHAT, headers=bearer("sk-tera-simple"))
        assert ok.status_code == 200


async def test_without_keys_everything_is_open(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, _, _app):
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
        assert (await client.get("/v1/models")).status_code == 200


async def test_logs_carry_key_name_never_secret_or_prompt(
    smollm_dir: Path, keys: tuple[Path, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    path, secrets = keys
    prompt = "my-very-private-prompt-text"
    body = {**CHAT, "messages": [{"role": "user", "content": prompt}]}
    caplog.set_level(logging.DEBUG)
    async with fake_server(smollm_dir, server_overrides={"keys_file": str(path)}) as (
        client,
        _,
        _app,
    ):
        wrong_secret = "sk-tera-" + "Z" * 40
        ok = await client.post("/v1/chat/completions", json=body, headers=bearer(secrets["alice"]))
        stream = await client.post(
            "/v1/chat/completions", json={**body, "stream": True}, headers=bearer(secrets["alice"])
        )
        denied = await client.post("/v1/chat/completions", json=body, headers=bearer(wrong_secret))
        scoped = await client.post(
            "/v1/chat/completions", json=body, headers=bearer(secrets["scoped"])
        )
        invalid = await client.post(
            "/v1/chat/completions", json={**body, "n": 0}, headers=bearer(secrets["alice"])
        )
    assert [ok.status_code, stream.status_code, denied.status_code] == [200, 200, 401]
    assert [scoped.status_code, invalid.status_code] == [403, 400]
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in [*secrets.values(), wrong_secret]:
        assert secret not in text
    assert prompt not in text
    access = [r.getMessage() for r in caplog.records if r.name == "tera_serve.access"]
    assert any("key=alice" in line and ok.headers["x-tera-request-id"] in line for line in access)
    assert any("key=scoped" in line and "status=403" in line for line in access)
    assert any("key=-" in line and "status=401" in line for line in access)
