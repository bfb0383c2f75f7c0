"""POST /v1/embeddings: the request decided up front (inputs, window, bounds, dimensions:
every 4xx), then every input pooled by the engine, then OpenAI's body (float or base64)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from tera_serve.config import ServerConfig
from tera_serve.engine.pooling import EMBED, PoolingEngine, PoolingInfo, Vector
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.embeddings import EmbeddingInput, EmbeddingRequest
from tera_serve.service.pooling import Disconnected, run_inputs, truncated
from tera_serve.service.pooling_inputs import InputBounds, TokenList, tokenize_inputs
from tera_serve.service.pooling_metrics import PoolingObserver
from tera_serve.service.registry import ServedModel


@dataclass(frozen=True)
class EmbeddingJob:
    model: str
    """The id the request named (echoed in the body, as OpenAI)."""
    token_lists: list[TokenList]
    dimensions: int | None
    """Truncate to this many values and re-normalize (Matryoshka); None: as the model."""
    encoding_format: str

    @property
    def tokens(self) -> int:
        return sum(len(ids) for ids in self.token_lists)


INLINE_INPUTS = 16
INLINE_UNITS = 4096
"""A request of at most this many inputs and characters (or token ids) is prepared and
answered on the loop: its work is a fraction of a millisecond, less than the hop to the
CPU pool; anything larger runs in the pool (DESIGN rule 9)."""


def is_small(body: EmbeddingRequest) -> bool:
    value = body.input
    if isinstance(value, str):
        return len(value) <= INLINE_UNITS
    if len(value) > INLINE_UNITS:
        return False
    units = sum(len(item) if isinstance(item, str | list) else 1 for item in value)
    inputs = 1 if value and isinstance(value[0], int) else len(value)
    return inputs <= INLINE_INPUTS and units <= INLINE_UNITS


def input_bounds(
    served: ServedModel, pooling: PoolingInfo, server: ServerConfig, truncate: int | None
) -> InputBounds:
    return InputBounds(
        window=served.context_length,
        max_inputs=server.max_embedding_inputs,
        max_tokens=server.max_embedding_tokens,
        vocab_size=pooling.vocab_size or len(served.tokenizer),
        truncate=truncate,
    )


def embedding_items(value: EmbeddingInput) -> list[str | list[int]]:
    """The request's inputs, one per embedding: a string or an array of token ids alone is
    one input; an array of strings or of token arrays is one input each."""
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(item, int) for item in value):
        return [list(value)]  # type: ignore[arg-type]
    return list(value)  # type: ignore[arg-type]


def check_embed_task(model_id: str, pooling: PoolingInfo) -> None:
    if EMBED not in pooling.tasks:
        raise InvalidRequestError(
            f"The model '{model_id}' is a cross-encoder; it scores pairs on POST /v1/rerank "
            "and /v1/score, and makes no embeddings.",
            param="model",
            code="model_not_supported",
        )


def check_dimensions(model_id: str, pooling: PoolingInfo, dimensions: int | None) -> int | None:
    """The truncation a request's `dimensions` asks for (None: none)."""
    if dimensions is None or dimensions == pooling.dimensions:
        return None
    if not pooling.matryoshka:
        raise InvalidRequestError(
            f"The model '{model_id}' makes {pooling.dimensions}-dimensional embeddings and "
            "cannot shorten them (it is not a Matryoshka model); leave out `dimensions`.",
            param="dimensions",
        )
    if dimensions > pooling.dimensions:
        raise InvalidRequestError(
            f"`dimensions` ({dimensions}) is more than the model's {pooling.dimensions}.",
            param="dimensions",
        )
    return dimensions


def prepare_embeddings(
    body: EmbeddingRequest, served: ServedModel, pooling: PoolingInfo, server: ServerConfig
) -> EmbeddingJob:
    """Everything that can be a 400, before any engine work (runs in the CPU pool)."""
    check_embed_task(body.model, pooling)
    dimensions = check_dimensions(body.model, pooling, body.dimensions)
    bounds = input_bounds(served, pooling, server, body.truncate_prompt_tokens)
    single = isinstance(body.input, str) or bool(body.input and isinstance(body.input[0], int))
    items = embedding_items(body.input)
    lists = tokenize_inputs(items, served.tokenizer, bounds, "input", single=single)
    return EmbeddingJob(body.model, lists, dimensions, body.encoding_format)


async def run_embeddings(
    job: EmbeddingJob,
    engine: PoolingEngine,
    request_id: str,
    timeout_s: float,
    observer: PoolingObserver,
    disconnected: Disconnected | None = None,
) -> list[Vector]:
    async def embed(engine_id: str, ids: TokenList) -> Vector:
        return truncated(await engine.embed(engine_id, ids), job.dimensions)

    return await run_inputs(
        job.token_lists, embed, request_id, timeout_s, observer, job.tokens, disconnected
    )


def _encoded(vector: Vector, encoding_format: str) -> object:
    if encoding_format == "base64":
        # Little-endian float32 bytes, what the openai SDK decodes (its default format).
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.astype(np.float32)


def embeddings_body(job: EmbeddingJob, vectors: Sequence[Vector]) -> bytes:
    body = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": _encoded(v, job.encoding_format)}
            for index, v in enumerate(vectors)
        ],
        "model": job.model,
        "usage": {"prompt_tokens": job.tokens, "total_tokens": job.tokens},
    }
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
