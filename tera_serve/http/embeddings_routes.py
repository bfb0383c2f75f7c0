"""POST /v1/embeddings, /v1/rerank and /v1/score: pooling work under the same keys, scopes,
limits, admission, request ids, metrics and log line as generation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry

from tera_serve.bounded_work import offload
from tera_serve.engine.pooling import PoolingEngine
from tera_serve.http.body import read_model
from tera_serve.http.context import ServerContext
from tera_serve.http.openapi import json_body
from tera_serve.http.route_support import (
    admit,
    check_accepting,
    context_of,
    disconnected,
    guard_of,
    record_of,
)
from tera_serve.protocol.embeddings import (
    EmbeddingRequest,
    PoolingFields,
    RerankRequest,
    ScoreRequest,
)
from tera_serve.service.embeddings import (
    embeddings_body,
    is_small,
    prepare_embeddings,
    run_embeddings,
)
from tera_serve.service.pooling_metrics import PoolingMetrics, PoolingObserver
from tera_serve.service.registry import ServedModel
from tera_serve.service.rerank import (
    PairJob,
    prepare_rerank,
    prepare_score,
    rerank_body,
    run_scores,
    score_body,
)

BodyT = TypeVar("BodyT", bound=PoolingFields)
T = TypeVar("T")


async def _work(small: bool, fn: Callable[..., T], *args: Any) -> T:
    """A small request's preparation or answer on the loop (cheaper than the hop to the
    pool, service/embeddings.is_small); anything larger in the CPU pool."""
    if small:
        return fn(*args)
    return await offload(fn, *args, what="preparing the embeddings request")


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


async def _admitted(
    request: Request, body: PoolingFields, route: str
) -> tuple[ServerContext, ServedModel, PoolingEngine]:
    """The key's scope (403) first, then the model's kind (400 for a chat or speech
    model, by name), then the shared admission (404, 503, the key's concurrency)."""
    context = context_of(request)
    guard_of(request).authorize_model(body.model, context.config.models)
    context.speech.check_text_model(body.model)
    context.registry.get_pooling(body.model, route)
    served = await admit(request, context, body.model)
    _, engine = context.registry.get_pooling(body.model, route)
    return context, served, engine


INLINE_BODY_BYTES = 16 * 1024
"""A body under this is parsed on the loop (tens of microseconds, less than the hop to the
CPU pool that larger ones take)."""


async def _read(request: Request, model: type[BodyT]) -> BodyT:
    context = context_of(request)
    check_accepting(context)
    return await read_model(model, request, context, inline_below=INLINE_BODY_BYTES)


def _observer(
    metrics: PoolingMetrics, request: Request, served: ServedModel, route: str
) -> PoolingObserver:
    return PoolingObserver(metrics, record_of(request), served.config.served_id, route)


async def _scored(
    metrics: PoolingMetrics,
    request: Request,
    body: BodyT,
    route: str,
    prepare: Callable[..., PairJob],
    answer: Callable[[PairJob, list[float]], bytes],
) -> Response:
    """Rerank and score: pairs tokenized in the pool, scored by the engine, answered."""
    context, served, engine = await _admitted(request, body, route)
    job = await offload(
        prepare, body, served, engine.pooling, context.config, what="tokenizing the inputs"
    )
    guard_of(request).reserve(job.tokens, 0)
    scores = await run_scores(
        job,
        engine,
        request.state.request_id,
        context.config.request_timeout_s,
        _observer(metrics, request, served, route),
        functools.partial(disconnected, request),
    )
    return _json(answer(job, scores))


def build_embeddings_router(metrics_registry: CollectorRegistry) -> APIRouter:
    router = APIRouter()
    metrics = PoolingMetrics(metrics_registry)

    @router.post("/v1/embeddings", openapi_extra=json_body(EmbeddingRequest))
    async def embeddings(request: Request) -> Response:
        route = "/v1/embeddings"
        body = await _read(request, EmbeddingRequest)
        context, served, engine = await _admitted(request, body, route)
        small = is_small(body)
        job = await _work(small, prepare_embeddings, body, served, engine.pooling, context.config)
        # Per-key token limits count a pooling request's input tokens (it generates none).
        guard_of(request).reserve(job.tokens, 0)
        vectors = await run_embeddings(
            job,
            engine,
            request.state.request_id,
            context.config.request_timeout_s,
            _observer(metrics, request, served, route),
            functools.partial(disconnected, request),
        )
        return _json(await _work(small, embeddings_body, job, vectors))

    @router.post("/v1/rerank", openapi_extra=json_body(RerankRequest))
    async def rerank(request: Request) -> Response:
        body = await _read(request, RerankRequest)
        request_id = request.state.request_id
        return await _scored(
            metrics,
            request,
            body,
            "/v1/rerank",
            prepare_rerank,
            lambda job, scores: rerank_body(
                job, scores, request_id, body.top_n, body.return_documents
            ),
        )

    @router.post("/v1/score", openapi_extra=json_body(ScoreRequest))
    async def score(request: Request) -> Response:
        body = await _read(request, ScoreRequest)
        request_id = request.state.request_id
        return await _scored(
            metrics,
            request,
            body,
            "/v1/score",
            prepare_score,
            lambda job, scores: score_body(job, scores, request_id),
        )

    return router
