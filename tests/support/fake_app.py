"""An in-process tera-serve app over the scripted FakeEngine, for protocol tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.engine.base import EngineRequest
from tera_serve.engine.fake import FakeEngine, Script
from tera_serve.http.app import create_app
from tera_serve.http.context import ServerContext
from tera_serve.http.startup import load_models

FAKE_MODEL_ID = "fake/model"


def scripted_text(tokenizer: Any, text: str, eos: bool = True) -> Script:
    """A script that answers every request with `text` (then EOS)."""
    ids = list(tokenizer.encode(text, add_special_tokens=False))
    if eos:
        ids.append(tokenizer.eos_token_id)

    def script(request: EngineRequest) -> Sequence[int]:
        return ids

    return script


@contextlib.asynccontextmanager
async def fake_server(
    tokenizer_dir: Path,
    script: Script | None = None,
    *,
    model: ModelConfig | None = None,
    server_overrides: dict[str, Any] | None = None,
    engine_kwargs: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeEngine, FastAPI]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    engine = FakeEngine(
        tokenizer,
        script or scripted_text(tokenizer, "Hello there, friend."),
        eos_token_id=tokenizer.eos_token_id,
        model_path=str(tokenizer_dir),
        **(engine_kwargs or {}),
    )
    model = model or ModelConfig(model=str(tokenizer_dir), served_model_name=FAKE_MODEL_ID)
    # Stored responses stay in memory unless a test names a file (never the user's cache).
    overrides = {"responses_store": ":memory:", **(server_overrides or {})}
    config = ServerConfig(models=(model,), **overrides)
    context = ServerContext(config=config, engine_factory=lambda _config, _family: engine)
    app = create_app(context)
    await load_models(context)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, engine, app
