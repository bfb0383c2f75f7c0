"""The OpenAI/Tera routes."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from tera_serve.errors import (
    InvalidRequestError,
    ServerError,
    ServiceUnavailableError,
)
from tera_serve.http.body import read_model
from tera_serve.http.context import ServerContext
from tera_serve.http.openapi import json_body
from tera_serve.http.streaming import folded_body, sse_body
from tera_serve.metrics import GenerationObserver, RequestRecord
from tera_serve.protocol.chat import ChatCompletionRequest
from tera_serve.protocol.completions import CompletionRequest
from tera_serve.protocol.tokenize import DetokenizeRequest, TokenizeRequest
from tera_serve.security.guard import RequestGuard
from tera_serve.service.chat_output import ChatChunkEncoder, ChatFolder
from tera_serve.service.chat_prepare import prepare_chat
from tera_serve.service.completions import (
    CompletionChunkEncoder,
    CompletionFolder,
    prepare_completion,
)
from tera_serve.service.model_card import model_card
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.registry import ServedModel
from tera_serve.service.request_bounds import check_tokenize_input, completion_sequences
from tera_serve.service.tokenize import detokenize, tokenize

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def context_of(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


def check_accepting(context: ServerContext) -> None:
    if context.draining:
        raise ServiceUnavailableError(
            "The server is shutting down.", code="shutting_down", headers={"Retry-After": "5"}
        )


def guard_of(request: Request) -> RequestGuard:
    """The request's key and limits (set by GuardMiddleware, which create_app installs)."""
    guard = request.scope.get("state", {}).get("guard")
    if not isinstance(guard, RequestGuard):
        raise ServerError("The request guard is missing.", code="internal_error")
    return guard


async def admit(
    request: Request, context: ServerContext, model_id: str, sequences: int = 1
) -> ServedModel:
    """Everything decided before tokenization (draining was checked before the body was
    read): the key's scope (403), the model (404), then an admission slot (503), held until
    the response ends."""
    guard = guard_of(request)
    guard.authorize_model(model_id, context.config.models)
    served = context.registry.get(model_id)
    model = served.config.served_id
    record_of(request).model = model  # a served id: bounded label values
    started = time.perf_counter()
    try:
        await guard.admit(model, sequences)
    except ServiceUnavailableError as exc:
        context.metrics.rate_limited.labels(model, exc.code or "over_capacity").inc()
        raise
    context.metrics.queue_time.labels(model).observe(time.perf_counter() - started)
    return served


async def _respond(
    request: Request,
    context: ServerContext,
    served: ServedModel,
    prepared: PreparedGeneration,
    chat: bool,
) -> Response:
    timeout = context.config.request_timeout_s
    guard_of(request).reserve(prepared.prompt_tokens, max_new_tokens(prepared))
    observer = GenerationObserver(context.metrics, record_of(request), served.config.served_id)
    if prepared.stream:
        encoder = ChatChunkEncoder(prepared) if chat else CompletionChunkEncoder(prepared)
        return StreamingResponse(
            sse_body(prepared, served.engine, encoder, timeout, observer),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    folder = ChatFolder(prepared) if chat else CompletionFolder(prepared)
    body = await folded_body(prepared, served.engine, folder, request, timeout, observer)
    return json_response(body)


def max_new_tokens(prepared: PreparedGeneration) -> int:
    """The most tokens the request's sequences may generate together (n × max_tokens)."""
    return sum(r.sampling.max_tokens for r in prepared.engine_requests)


def record_of(request: Request) -> RequestRecord:
    """The access-log record of this request (a detached one if the middleware is absent)."""
    record = getattr(request.state, "record", None)
    if isinstance(record, RequestRecord):
        return record
    return RequestRecord(
        request_id=str(getattr(request.state, "request_id", "-")),
        method=request.method,
        path=request.url.path,
    )


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/chat/completions", openapi_extra=json_body(ChatCompletionRequest))
    async def chat_completions(request: Request) -> Response:
        context = context_of(request)
        check_accepting(context)
        body = await read_model(ChatCompletionRequest, request, context)
        served = await admit(request, context, body.model, body.n)
        prepared = await prepare_chat(body, served, context.config, request.state.request_id)
        return await _respond(request, context, served, prepared, chat=True)

    @router.post("/v1/completions", openapi_extra=json_body(CompletionRequest))
    async def completions(request: Request) -> Response:
        context = context_of(request)
        check_accepting(context)
        body = await read_model(CompletionRequest, request, context)
        served = await admit(request, context, body.model, completion_sequences(body))
        prepared = await prepare_completion(body, served, context.config)
        return await _respond(request, context, served, prepared, chat=False)

    @router.get("/v1/models")
    async def list_models(request: Request) -> Response:
        context = context_of(request)
        guard = guard_of(request)
        data = [
            model_card(served, model_id)
            for served in context.registry.ready_models()
            for model_id in served.config.all_ids
            if guard.allows(model_id, context.config.models)
        ]
        return json_response({"object": "list", "data": data})

    @router.get("/v1/models/{model_id:path}")
    async def get_model(request: Request, model_id: str) -> Response:
        context = context_of(request)
        guard_of(request).authorize_model(model_id, context.config.models)
        served = context.registry.get(model_id)
        return json_response(model_card(served, model_id))

    @router.get("/health")
    async def health(request: Request) -> Response:
        context = context_of(request)
        states = {k: v.value for k, v in context.registry.states().items()}
        healthy = (
            context.registry.all_ready() and not context.draining and not context.engine_failed
        )
        status = "ok" if healthy else ("draining" if context.draining else "unavailable")
        if context.security.keys is not None and guard_of(request).key is None:
            return json_response({"status": status}, 200 if healthy else 503)  # no details
        unfinished = {
            served.config.served_id: served.engine.unfinished_requests()
            for served in context.registry.ready_models()
        }
        return json_response(
            {"status": status, "models": states, "engine_unfinished_requests": unfinished},
            200 if healthy else 503,
        )

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        context = context_of(request)
        body = generate_latest(context.metrics.registry) + generate_latest(REGISTRY)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @router.post("/tokenize", openapi_extra=json_body(TokenizeRequest))
    async def tokenize_route(request: Request) -> Response:
        context = context_of(request)
        body = await read_model(TokenizeRequest, request, context)
        check_tokenize_input(body, context.config)
        served = await admit(request, context, _model_or_default(body.model, context))
        return json_response(await tokenize(body, served))

    @router.post("/detokenize", openapi_extra=json_body(DetokenizeRequest))
    async def detokenize_route(request: Request) -> Response:
        context = context_of(request)
        body = await read_model(DetokenizeRequest, request, context)
        served = await admit(request, context, _model_or_default(body.model, context))
        return json_response(await detokenize(body, served))

    return router


def _model_or_default(model: str | None, context: ServerContext) -> str:
    if model:
        return model
    default = context.registry.default_id()
    if default is None:
        raise InvalidRequestError(
            "`model` is required when several models are served.", param="model"
        )
    return default
