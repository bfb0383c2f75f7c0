"""One short generation through a fresh engine before it is reported ready.

On GPUs the first request pays CUDA graph capture and kernel autotuning (seconds); this
moves that cost before /health turns 200.
"""

from __future__ import annotations

import logging
import time

from tera_serve.engine.base import EngineRequest, SamplingSpec
from tera_serve.service.registry import ServedModel

logger = logging.getLogger(__name__)

WARMUP_TOKENS = 8


async def warm_up(served: ServedModel) -> None:
    started = time.monotonic()
    prompt = served.renderer.encode("Hello! Please say hello back.")
    request = EngineRequest(
        request_id=f"warmup-{served.config.served_id}",
        prompt_token_ids=prompt,
        sampling=SamplingSpec(max_tokens=WARMUP_TOKENS, temperature=0.0, ignore_eos=True),
    )
    stream = served.engine.generate(request)
    try:
        async for _ in stream:
            pass
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    logger.info("warmed up %s in %.1f s", served.config.served_id, time.monotonic() - started)
