"""Keys, scopes, rate limits and admission through the real process and real vLLM.

One server for the module: keys made with the real `tera-serve keys` command, capacity
2 running + 2 queued per model.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import DEFAULT_MODEL
from tests.support.live_server import LiveServer, live_server
from tests.unit.security.support import bearer, is_contract_error, is_route_error

pytestmark = pytest.mark.e2e

CHAT = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
# Routes FastAPI registers outside the published schema.
UNPUBLISHED = [("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/redoc")]


def keys_command(keys_file: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tera_serve", "keys", *args, "--keys-file", str(keys_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Any]]:
    keys_file = tmp_path_factory.mktemp("keys") / "keys.yaml"
    secrets = {
        "alice": keys_command(keys_file, "create", "--name", "alice"),
        "scoped": keys_command(keys_file, "create", "--name", "scoped", "--models", "other/m"),
        "limited": keys_command(keys_file, "create", "--name", "limited", "--rpm", "5"),
    }
    args = [
        "--keys-file", str(keys_file), "--max-model-len", "2048",
        "--max-running-per-model", "2", "--max-queued-per-model", "2", "--queue-timeout-s", "120",
    ]  # fmt: skip
    with live_server(args, "security") as server:
        warm = httpx.post(
            server.v1 + "/chat/completions",
            json=CHAT,
            headers=bearer(secrets["alice"]),
            timeout=120,
        )
        assert warm.status_code == 200, warm.text
        yield server, (keys_file, secrets)


def test_route_walk(secured: tuple[LiveServer, Any]) -> None:
    server, (_, secrets) = secured
    alice = bearer(secrets["alice"])
    schema = httpx.get(server.base_url + "/openapi.json", headers=alice, timeout=10).json()
    calls = [(m.upper(), p) for p, item in schema["paths"].items() for m in item]
    calls = [(m, p.replace("{model_id}", DEFAULT_MODEL)) for m, p in calls]
    assert len(calls) >= 8
    for method, path in [*calls, *UNPUBLISHED, ("GET", "/no/such/route")]:
        for headers in ({}, bearer("sk-tera-wrong"), {"x-api-key": "sk-tera-wrong"}):
            response = httpx.request(
                method, server.base_url + path, headers=headers, json=CHAT, timeout=30
            )
            if path == "/health":
                assert response.status_code == 200
                continue
            assert response.status_code == 401, (method, path, response.text)
            assert is_route_error(path, response.json())
            assert response.json()["error"]["message"] == "missing or invalid API key"
        good = httpx.request(method, server.base_url + path, headers=alice, json=CHAT, timeout=60)
        assert good.status_code != 401, (method, path)


def test_scope_is_403(secured: tuple[LiveServer, Any]) -> None:
    server, (_, secrets) = secured
    response = httpx.post(
        server.v1 + "/chat/completions", json=CHAT, headers=bearer(secrets["scoped"]), timeout=30
    )
    assert response.status_code == 403 and response.json()["error"]["type"] == "permission_error"


def test_rpm_five_of_eight(secured: tuple[LiveServer, Any]) -> None:
    server, (_, secrets) = secured
    headers = bearer(secrets["limited"])
    responses = [
        httpx.post(server.v1 + "/chat/completions", json=CHAT, headers=headers, timeout=60)
        for _ in range(8)
    ]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 3
    for response in responses:
        assert response.headers["x-ratelimit-limit-requests"] == "5"
        assert response.headers["x-ratelimit-reset-requests"].endswith("s")
    for response in responses[5:]:
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["x-ratelimit-remaining-requests"] == "0"
        assert response.json()["error"]["type"] == "rate_limit_error"


def test_admission_ten_simultaneous(secured: tuple[LiveServer, Any]) -> None:
    server, (_, secrets) = secured
    body = {**CHAT, "max_tokens": 192, "ignore_eos": True}
    statuses: list[int] = []
    ready = threading.Barrier(10)

    def one() -> None:
        ready.wait(30)
        response = httpx.post(
            server.v1 + "/chat/completions",
            json=body,
            headers=bearer(secrets["alice"]),
            timeout=120,
        )
        statuses.append(response.status_code)
        if response.status_code == 503:
            assert response.headers["retry-after"] and is_contract_error(response.json())

    threads = [threading.Thread(target=one) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(150)
    assert sorted(statuses) == [200] * 4 + [503] * 6, statuses
    assert server.unfinished_requests() == 0


def test_revoke_and_sighup_apply_without_restart(secured: tuple[LiveServer, Any]) -> None:
    server, (keys_file, secrets) = secured
    url = server.v1 + "/models"
    assert httpx.get(url, headers=bearer(secrets["scoped"])).status_code == 200
    keys_command(keys_file, "revoke", "scoped")
    deadline = time.monotonic() + 10  # the file is checked at most once a second
    while httpx.get(url, headers=bearer(secrets["scoped"])).status_code != 401:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    fresh = keys_command(keys_file, "create", "--name", "fresh")
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while httpx.get(url, headers=bearer(fresh)).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert server.process.poll() is None  # SIGHUP reloads; it does not stop the server
