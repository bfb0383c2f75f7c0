"""POST /v1/completions: legacy text completions (a prompt batch, no template)."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tera_serve.adapters.completions import prompt_batch
from tera_serve.adapters.completions_output import CompletionOptions
from tera_serve.adapters.protocols import completion_encoder, completion_folder, stream_options
from tera_serve.http.body import read_model
from tera_serve.http.openapi import json_body
from tera_serve.http.route_support import (
    Answering,
    admit_generation,
    check_accepting,
    context_of,
    respond,
)
from tera_serve.protocol.completions import CompletionRequest
from tera_serve.service.completions import prepare_batch
from tera_serve.service.request_bounds import batch_sequences


def build_completions_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/completions", openapi_extra=json_body(CompletionRequest))
    async def completions(request: Request) -> Response:
        context = context_of(request)
        check_accepting(context)
        body = await read_model(CompletionRequest, request, context)
        batch = prompt_batch(body)
        served = await admit_generation(
            request, context, body.model, sequences=batch_sequences(batch)
        )
        prepared = await prepare_batch(
            batch, served, context.config, request.state.request_id, stream=body.stream
        )
        options = CompletionOptions(stream_options(body), prepared.echo)
        answering = Answering(
            functools.partial(completion_encoder, options=options),
            functools.partial(completion_folder, options=options),
        )
        return await respond(request, context, served, prepared.generation, answering)

    return router
