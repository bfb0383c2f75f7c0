"""vLLM's pooling runner over `AsyncLLM`: embeddings and cross-encoder scores.

The engine is built as the generation engine is (vllm_engine.py: the same argument
pass-through and GPU pinning), with `runner="pooling"`; vLLM reads the pooling type and the
normalization from the model's own sentence-transformers files. Requests are token ids
tokenized by tera-serve, so windows and bounds are decided before anything is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import numpy as np
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.exceptions import VLLMValidationError
from vllm.inputs import TokensPrompt
from vllm.pooling_params import PoolingParams
from vllm.v1.engine.async_llm import AsyncLLM
from vllm.v1.engine.exceptions import EngineDeadError as VllmEngineDeadError

from tera_serve.engine.base import (
    EngineDeadError,
    EngineDelta,
    EngineInfo,
    EngineRequest,
    EngineRequestError,
)
from tera_serve.engine.pooling import CLASSIFY, EMBED, PairInput, PoolingInfo, Vector
from tera_serve.engine.vllm_engine import AsyncLLMLifecycle, visible_gpus

_POOLING_TASKS = frozenset({EMBED, CLASSIFY})


class VllmPoolingEngine(AsyncLLMLifecycle):
    """One vLLM AsyncLLM on the pooling runner (with its engine-core process)."""

    def __init__(self, engine: AsyncLLM, info: EngineInfo, pooling: PoolingInfo) -> None:
        self._engine = engine
        self.info = info
        self.pooling = pooling

    @classmethod
    def start(
        cls,
        model: str,
        engine_args: Mapping[str, Any],
        tokenizer: str | None,
        *,
        gpu_ids: tuple[int, ...] | None = None,
    ) -> VllmPoolingEngine:
        values = {"runner": "pooling", **dict(engine_args)}
        args = AsyncEngineArgs(model=model, tokenizer=tokenizer, **values)
        with visible_gpus(gpu_ids):
            engine = AsyncLLM.from_engine_args(args)
        config = engine.model_config
        info = EngineInfo(
            model_path=model,
            max_model_len=int(config.max_model_len),
            dtype=str(config.dtype).removeprefix("torch."),
            quantization=config.quantization,
            hf_config=config.hf_config,
        )
        pooler = config.pooler_config
        pooling = PoolingInfo(
            tasks=frozenset(),  # known once the engine answers (`describe`)
            dimensions=int(config.embedding_size),
            matryoshka=bool(config.is_matryoshka),
            normalized=bool(pooler is None or pooler.use_activation is not False),
            vocab_size=int(config.get_vocab_size()),
        )
        return cls(engine, info, pooling)

    async def describe(self) -> PoolingInfo:
        """Ask the engine core which pooling tasks the loaded model runs (on the loop)."""
        supported = frozenset(await self._engine.get_supported_tasks()) & _POOLING_TASKS
        dimensions = self.pooling.dimensions
        if CLASSIFY in supported and EMBED not in supported:
            dimensions = int(getattr(self.info.hf_config, "num_labels", 1) or 1)
        self.pooling = PoolingInfo(
            tasks=supported,
            dimensions=dimensions,
            matryoshka=self.pooling.matryoshka,
            normalized=self.pooling.normalized,
            vocab_size=self.pooling.vocab_size,
        )
        return self.pooling

    async def _pool(self, request_id: str, prompt: TokensPrompt, params: PoolingParams) -> Vector:
        finished = False
        stream = self._engine.encode(prompt, params, request_id)
        try:
            async for output in stream:
                if output.finished:
                    finished = True
                    data = output.outputs.data
                    return np.asarray(data.float().cpu().numpy(), dtype=np.float32)
        except VllmEngineDeadError as exc:
            raise EngineDeadError(str(exc)) from exc
        except (VLLMValidationError, ValueError) as exc:
            raise EngineRequestError(str(exc)) from exc
        finally:
            if not finished:
                # Cancellation (client gone, timeout) arrives here: free the engine slot.
                await asyncio.shield(self._engine.abort(request_id))
        raise EngineRequestError("the engine returned no pooled output")

    async def embed(
        self, request_id: str, token_ids: Sequence[int], dimensions: int | None = None
    ) -> Vector:
        params = PoolingParams(task=EMBED, dimensions=dimensions)
        return await self._pool(request_id, TokensPrompt(prompt_token_ids=list(token_ids)), params)

    async def classify(self, request_id: str, pair: PairInput) -> Vector:
        params = PoolingParams(task=CLASSIFY)
        if pair.second_start is not None:
            # BERT-style pairs: vLLM takes the token types as the first index of type 1.
            params.extra_kwargs = {"compressed_token_type_ids": pair.second_start}
        prompt = TokensPrompt(prompt_token_ids=list(pair.token_ids))
        return await self._pool(request_id, prompt, params)

    # The generation members of the Engine protocol: a pooling model generates nothing
    # (the routes refuse text requests to it, naming it, before they get here).
    async def generate(self, request: EngineRequest) -> AsyncIterator[EngineDelta]:
        raise EngineRequestError(f"{self.info.model_path} is a pooling model; it generates no text")
        yield  # pragma: no cover  (makes this an async generator)

    def validate(self, request: EngineRequest) -> None:
        raise EngineRequestError(f"{self.info.model_path} is a pooling model; it generates no text")
