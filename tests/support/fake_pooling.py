"""An in-process pooling engine (no vLLM) and an app serving it beside a fake chat model.

Its embeddings are deterministic bags of tokens (one hashed unit per token id, L2
normalized), so texts sharing tokens are close; a cross-encoder's score of a pair is the
share of the second text's tokens that the first one has.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.engine.base import (
    EngineDelta,
    EngineInfo,
    EngineRequest,
    EngineRequestError,
)
from tera_serve.engine.fake import FakeEngine
from tera_serve.engine.pooling import CLASSIFY, EMBED, PairInput, PoolingInfo, Vector
from tera_serve.http.app import create_app
from tera_serve.http.context import ServerContext
from tera_serve.http.startup import load_models
from tera_serve.service.pooling_loading import load_pooling_model
from tests.support.fake_app import scripted_text

EMBED_MODEL = "fake/embedder"
RERANK_MODEL = "fake/reranker"
CHAT_MODEL = "fake/chat"
FAKE_DIMENSIONS = 64


def bag_of_tokens(token_ids: Sequence[int], dimensions: int = FAKE_DIMENSIONS) -> Vector:
    vector = np.zeros(dimensions, dtype=np.float32)
    for token in token_ids:
        vector[(token * 2654435761) % dimensions] += 1.0
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


@dataclass
class FakePoolingEngine:
    task: str = EMBED
    matryoshka: bool = False
    window: int = 256
    vocab_size: int = 30522
    calls: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    pairs: list[PairInput] = field(default_factory=list)
    closed: bool = False
    info: EngineInfo = field(init=False)
    pooling: PoolingInfo = field(init=False)

    def __post_init__(self) -> None:
        self.info = EngineInfo(
            model_path="fake", max_model_len=self.window, dtype="float32", quantization=None,
            hf_config=None,
        )  # fmt: skip
        self.pooling = PoolingInfo(
            tasks=frozenset(), dimensions=FAKE_DIMENSIONS if self.task == EMBED else 1,
            matryoshka=self.matryoshka, vocab_size=self.vocab_size,
        )  # fmt: skip

    async def describe(self) -> PoolingInfo:
        self.pooling = PoolingInfo(
            tasks=frozenset({self.task}), dimensions=self.pooling.dimensions,
            matryoshka=self.matryoshka, vocab_size=self.vocab_size,
        )  # fmt: skip
        return self.pooling

    async def embed(
        self, request_id: str, token_ids: Sequence[int], dimensions: int | None = None
    ) -> Vector:
        self.calls.append((request_id, tuple(token_ids)))
        return bag_of_tokens(token_ids)

    async def classify(self, request_id: str, pair: PairInput) -> Vector:
        self.calls.append((request_id, pair.token_ids))
        self.pairs.append(pair)
        split = pair.second_start or 0
        first, second = set(pair.token_ids[:split]), pair.token_ids[split:]
        shared = sum(1 for token in second if token in first)
        return np.array([shared / max(len(second), 1)], dtype=np.float32)

    async def generate(self, request: EngineRequest) -> AsyncIterator[EngineDelta]:
        raise EngineRequestError("a pooling model generates no text")
        yield  # pragma: no cover

    def validate(self, request: EngineRequest) -> None:
        raise EngineRequestError("a pooling model generates no text")

    async def abort(self, request_id: str) -> None:
        return None

    def is_healthy(self) -> bool:
        return True

    def unfinished_requests(self) -> int:
        return 0

    async def close(self) -> None:
        self.closed = True


def pooling_config(folder: Path, served: str, task: str) -> ModelConfig:
    return ModelConfig(model=str(folder), served_model_name=served, task=task)


@contextlib.asynccontextmanager
async def pooling_server(
    minilm_dir: Path,
    chat_dir: Path,
    *,
    engines: dict[str, FakePoolingEngine] | None = None,
    server_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, FakePoolingEngine]]]:
    """An app serving a fake chat model, a fake embedder and a fake cross-encoder (both on
    the real MiniLM tokenizer)."""
    from transformers import AutoTokenizer

    engines = engines or {
        EMBED_MODEL: FakePoolingEngine(EMBED),
        RERANK_MODEL: FakePoolingEngine(CLASSIFY),
    }
    tokenizer = AutoTokenizer.from_pretrained(str(chat_dir))
    chat = FakeEngine(
        tokenizer, scripted_text(tokenizer, "hi"), eos_token_id=tokenizer.eos_token_id
    )
    chat_config = ModelConfig(model=str(chat_dir), served_model_name=CHAT_MODEL)
    pooled = [
        pooling_config(minilm_dir, served, "embedding" if e.task == EMBED else "rerank")
        for served, e in engines.items()
    ]
    overrides = {"responses_store": ":memory:", **(server_overrides or {})}
    config = ServerConfig(models=(chat_config, *pooled), **overrides)
    context = ServerContext(config=config, engine_factory=lambda _c, _f: chat)
    app = create_app(context)
    await load_models(context, [chat_config])
    for model in pooled:
        engine = engines[model.served_id]
        context.registry.set_ready(await load_pooling_model(model, lambda _c, e=engine: e))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, engines
