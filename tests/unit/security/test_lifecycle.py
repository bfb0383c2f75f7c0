"""Lifecycle in-process: engine death turns /health 503 at once; SIGTERM drains."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from tera_serve import server as server_module
from tera_serve.server import watch_engines
from tests.support.fake_app import FAKE_MODEL_ID, fake_server
from tests.unit.security.support import is_contract_error, threaded_server

CHAT = {"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64}


async def test_engine_death_turns_health_503_at_once(
    smollm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fake_server(smollm_dir) as (client, engine, app):
        assert (await client.get("/health")).status_code == 200
        engine.kill()
        health = await client.get("/health")
        assert health.status_code == 503 and health.json()["status"] != "ok"
        failed = await client.post("/v1/chat/completions", json=CHAT)
        assert failed.status_code == 500 and is_contract_error(failed.json())
        assert failed.json()["error"]["code"] == "engine_dead"
        # The watcher asks the server to exit and marks the failure (exit code 1).
        monkeypatch.setattr(server_module, "ENGINE_WATCH_INTERVAL_S", 0.01)
        fake_uvicorn = SimpleNamespace(should_exit=False)
        context = app.state.context
        await watch_engines(context, fake_uvicorn)  # type: ignore[arg-type]
        assert fake_uvicorn.should_exit and context.engine_failed


def test_sigterm_drains_streams_and_refuses_new_work(smollm_dir: Path) -> None:
    with threaded_server(smollm_dir, words=40, step_delay_s=0.03) as running:
        url = running.base_url + "/v1/chat/completions"
        results: list[str] = []
        started = threading.Barrier(4)

        def stream() -> None:
            with httpx.stream("POST", url, json={**CHAT, "stream": True}, timeout=30) as r:
                lines = r.iter_lines()
                first = next(lines)
                started.wait()
                text = "\n".join([first, *lines])
            results.append(text)

        workers = [threading.Thread(target=stream) for _ in range(3)]
        for worker in workers:
            worker.start()
        started.wait()
        running.server.handle_exit(signal.SIGTERM, None)  # as the signal handler would
        deadline = time.monotonic() + 5
        while not running.context.draining and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = httpx.post(url, json=CHAT, timeout=10)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
        assert httpx.get(running.base_url + "/health").status_code == 503
        for worker in workers:
            worker.join(30)
        running.thread.join(30)
        assert not running.thread.is_alive()  # stopped by itself once drained
        assert len(results) == 3
        for text in results:
            assert text.rstrip().endswith("data: [DONE]") and '"finish_reason":"stop"' in text
        assert running.engine.unfinished_requests() == 0


async def test_engines_closing_during_shutdown_are_not_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server is stopping (engines close): exit 0, not the engine-death exit code."""
    monkeypatch.setattr(server_module, "ENGINE_WATCH_INTERVAL_S", 0.01)
    fake_uvicorn = SimpleNamespace(should_exit=False)
    engine = SimpleNamespace(is_healthy=lambda: False)
    served = SimpleNamespace(engine=engine, config=SimpleNamespace(served_id="m"))
    context = SimpleNamespace(
        registry=SimpleNamespace(ready_models=lambda: [served]), engine_failed=False
    )

    async def stop_soon() -> None:
        fake_uvicorn.should_exit = True

    await asyncio.gather(watch_engines(context, fake_uvicorn), stop_soon())  # type: ignore[arg-type]
    assert not context.engine_failed
