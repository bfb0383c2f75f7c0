"""Routing by `model` in-process: ready, failed and still-loading models, unknown ids."""

from __future__ import annotations

from pathlib import Path

import httpx

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.engine.fake import FakeEngine
from tera_serve.http.app import create_app
from tera_serve.http.context import ServerContext
from tera_serve.http.startup import load_models
from tests.support.fake_app import scripted_text


async def test_failed_and_loading_models_get_503(smollm_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(smollm_dir))
    good = FakeEngine(
        tokenizer, scripted_text(tokenizer, "ok"), eos_token_id=tokenizer.eos_token_id
    )

    def factory(config: ModelConfig, _family: object) -> FakeEngine:
        if config.served_id == "broken":
            raise RuntimeError("out of GPU memory")
        return good

    models = (
        ModelConfig(model=str(smollm_dir), served_model_name="good"),
        ModelConfig(model=str(smollm_dir), served_model_name="broken"),
        ModelConfig(model=str(smollm_dir), served_model_name="slow"),
    )
    context = ServerContext(config=ServerConfig(models=models), engine_factory=factory)
    app = create_app(context)
    # Load the first two; "slow" stays in its loading state.
    await load_models(context, models[:2])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
        ok = await client.post("/v1/chat/completions", json={**body, "model": "good"})
        assert ok.status_code == 200
        for model_id, reason in (("broken", "failed to load"), ("slow", "still loading")):
            r = await client.post("/v1/chat/completions", json={**body, "model": model_id})
            assert r.status_code == 503, r.text
            assert r.json()["error"]["type"] == "service_unavailable"
            assert reason in r.json()["error"]["message"]
            assert r.headers["retry-after"]
        unknown = await client.post("/v1/chat/completions", json={**body, "model": "nope"})
        assert unknown.status_code == 404
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["models"] == {"good": "ready", "broken": "failed", "slow": "loading"}
        listed = [m["id"] for m in (await client.get("/v1/models")).json()["data"]]
        assert listed == ["good"]
