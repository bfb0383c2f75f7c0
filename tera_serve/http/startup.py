"""What the server does as it starts: load each model (a failure marks only that model),
freeze the start-up heap, and open the Responses store and the reasoning key."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Sequence

from tera_serve.config import POOLING_TASKS, ModelConfig
from tera_serve.errors import ConfigError
from tera_serve.http.context import ServerContext
from tera_serve.security.admission import ModelGate
from tera_serve.service.loading import load_served_model
from tera_serve.service.pooling_loading import load_pooling_model
from tera_serve.service.warmup import warm_up

logger = logging.getLogger(__name__)


def queue_length(gate: ModelGate) -> Callable[[], float]:
    """Read by Prometheus at scrape time: requests waiting for this model's slots."""
    return lambda: gate.queued


async def load_models(context: ServerContext, configs: Sequence[ModelConfig] | None = None) -> None:
    """Start the configured models (or `configs`) one after another; a failure marks only
    that model."""
    for config in context.config.models if configs is None else configs:
        if context.speech.is_speech(config.served_id):
            continue  # loaded by load_speech_models
        try:
            if config.task in POOLING_TASKS:
                served = await load_pooling_model(config)
            else:
                served = await asyncio.to_thread(load_served_model, config, context.engine_factory)
                if config.warmup:
                    await warm_up(served)
        except Exception as exc:
            logger.exception("model %s failed to load", config.served_id)
            context.registry.set_failed(config, str(exc))
            continue
        gate = context.security.admission.gate(config.served_id)
        context.metrics.waiting.labels(config.served_id).set_function(queue_length(gate))
        context.registry.set_ready(served)


async def load_models_and_freeze(context: ServerContext) -> None:
    """Load the models, then mark the start-up heap (vLLM, torch, tokenizers: ~600k objects)
    permanent, so a full garbage collection skips it rather than stalling every stream for
    ~0.3 s (benchmarks/frontend.py; `vllm serve` freezes its heap the same way)."""
    await load_models(context)
    await load_speech_models(context)
    gc.collect()
    gc.freeze()


async def load_speech_models(context: ServerContext) -> None:
    def on_ready(model: str) -> None:
        gate = context.security.admission.gate(model)
        context.metrics.waiting.labels(model).set_function(queue_length(gate))

    await context.speech.load_all(on_ready)


async def open_response_store(context: ServerContext) -> None:
    """Open the store before serving: a path it cannot use stops the start-up, named."""
    try:
        await context.responses.open()
    except ConfigError as exc:
        logger.error("%s", exc)
        raise
    logger.info("responses store: %s", context.responses.location)
    try:
        context.reasoning_seal.open()
    except ConfigError as exc:
        logger.error("%s", exc)
        raise
    logger.info("reasoning key: %s", context.reasoning_seal.location)
