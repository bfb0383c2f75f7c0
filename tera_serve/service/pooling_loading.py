"""Start one pooling model (`task: embedding` or `rerank`): its engine on vLLM's pooling
runner and its tokenizer, as a served model beside the chat models."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from tera_serve.chat.template import ChatTemplateRenderer
from tera_serve.config import ModelConfig
from tera_serve.default_embedding_model import resolve_embedding_model
from tera_serve.engine.pooling import CLASSIFY, EMBED, PoolingEngine
from tera_serve.errors import ConfigError
from tera_serve.service.loading import load_tokenizer
from tera_serve.service.pooling_family import PoolingFamily
from tera_serve.service.registry import ServedModel

logger = logging.getLogger(__name__)

PoolingFactory = Callable[[ModelConfig], PoolingEngine]
_NEEDED = {"embedding": EMBED, "rerank": CLASSIFY}


def start_vllm_pooling(config: ModelConfig) -> PoolingEngine:
    from tera_serve.engine.vllm_pooling import VllmPoolingEngine

    return VllmPoolingEngine.start(
        config.model, config.engine_args, config.tokenizer, gpu_ids=config.gpu_ids
    )


def resolved(config: ModelConfig) -> ModelConfig:
    """`model: "@minilm"` becomes the unpacked all-MiniLM-L6-v2 folder."""
    model = resolve_embedding_model(config.model)
    return config if model == config.model else dataclasses.replace(config, model=model)


async def load_pooling_model(
    config: ModelConfig, factory: PoolingFactory = start_vllm_pooling
) -> ServedModel:
    started = time.monotonic()
    config = resolved(config)
    engine = await asyncio.to_thread(factory, config)
    try:
        pooling = await engine.describe()
        needed = _NEEDED[config.task]
        if needed not in pooling.tasks:
            raise ConfigError(
                f"{config.served_id}: task {config.task} needs a model vLLM runs as `{needed}`; "
                f"this one runs {sorted(pooling.tasks) or 'no pooling task'}"
            )
        tokenizer = await asyncio.to_thread(load_tokenizer, config)
    except BaseException:
        await engine.close()
        raise
    logger.info(
        "model %s ready in %.1f s (pooling: %s, %d dimensions, window %d, matryoshka %s)",
        config.served_id,
        time.monotonic() - started,
        ",".join(sorted(pooling.tasks)),
        pooling.dimensions,
        engine.info.max_model_len,
        "yes" if pooling.matryoshka else "no",
    )
    return ServedModel(
        config=config,
        engine=engine,
        renderer=ChatTemplateRenderer(tokenizer, None),
        family=PoolingFamily(config.task),
        created=int(time.time()),
        pooling=engine,
    )
