"""The Tera routes beside the conversation routes: text completions, models, health,
metrics, tokenize."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from tera_serve.adapters.chat import tokenize_conversation
from tera_serve.adapters.completions import prompt_batch
from tera_serve.adapters.completions_output import CompletionOptions
from tera_serve.adapters.protocols import completion_encoder, completion_folder, stream_options
from tera_serve.errors import InvalidRequestError
from tera_serve.http.body import read_model, translated
from tera_serve.http.openapi import json_body
from tera_serve.http.route_support import (
    Answering,
    admit,
    check_accepting,
    context_of,
    guard_of,
    json_response,
    model_or_default,
    respond,
)
from tera_serve.protocol.completions import CompletionRequest
from tera_serve.protocol.tokenize import DetokenizeRequest, TokenizeRequest
from tera_serve.service.completions import prepare_batch
from tera_serve.service.model_card import model_card
from tera_serve.service.request_bounds import batch_sequences
from tera_serve.service.tokenize import detokenize, tokenize_text
from tera_serve.service.tokenize import tokenize_conversation as tokenize_chat


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/completions", openapi_extra=json_body(CompletionRequest))
    async def completions(request: Request) -> Response:
        context = context_of(request)
        check_accepting(context)
        body = await read_model(CompletionRequest, request, context)
        batch = prompt_batch(body)
        served = await admit(request, context, body.model, sequences=batch_sequences(batch))
        prepared = await prepare_batch(
            batch, served, context.config, request.state.request_id, stream=body.stream
        )
        options = CompletionOptions(stream_options(body), prepared.echo)
        answering = Answering(
            functools.partial(completion_encoder, options=options),
            functools.partial(completion_folder, options=options),
        )
        return await respond(request, context, served, prepared.generation, answering)

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
        data += context.speech.cards(lambda m: guard.allows(m, context.config.models))
        return json_response({"object": "list", "data": data})

    @router.get("/v1/models/{model_id:path}")
    async def get_model(request: Request, model_id: str) -> Response:
        context = context_of(request)
        guard_of(request).authorize_model(model_id, context.config.models)
        if context.speech.is_speech(model_id):
            return json_response(context.speech.card(model_id))
        served = context.registry.get(model_id)
        return json_response(model_card(served, model_id))

    @router.get("/health")
    async def health(request: Request) -> Response:
        context = context_of(request)
        states = {k: v.value for k, v in context.registry.states().items()}
        states.update(context.speech.states())
        healthy = (
            (context.registry.all_ready() or not context.registry.states())
            and context.speech.all_ready()
            and not context.draining
            and not context.engine_failed
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
        if body.messages is None and body.prompt is None:
            raise InvalidRequestError("Send `prompt` or `messages`.", param="prompt")
        served = await admit(request, context, model_or_default(body.model, context))
        if body.messages is not None:
            conversation = await translated(tokenize_conversation, body, served.config.served_id)
            return json_response(await tokenize_chat(conversation, served, context.config))
        return json_response(
            await tokenize_text(
                body.prompt or "",
                served,
                context.config,
                add_special_tokens=body.add_special_tokens,
            )
        )

    @router.post("/detokenize", openapi_extra=json_body(DetokenizeRequest))
    async def detokenize_route(request: Request) -> Response:
        context = context_of(request)
        body = await read_model(DetokenizeRequest, request, context)
        served = await admit(request, context, model_or_default(body.model, context))
        return json_response(await detokenize(body.tokens, served))

    return router
