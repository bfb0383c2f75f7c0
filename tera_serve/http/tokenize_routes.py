"""POST /tokenize and /detokenize: a prompt or a conversation as the model's token ids, as
the request would be charged, and back."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tera_serve.adapters.chat import tokenize_conversation
from tera_serve.errors import InvalidRequestError
from tera_serve.http.body import read_model, translated
from tera_serve.http.openapi import json_body
from tera_serve.http.route_support import (
    admit,
    context_of,
    json_response,
    model_or_default,
)
from tera_serve.protocol.tokenize import DetokenizeRequest, TokenizeRequest
from tera_serve.service.tokenize import detokenize, tokenize_text
from tera_serve.service.tokenize import tokenize_conversation as tokenize_chat


def build_tokenize_router() -> APIRouter:
    router = APIRouter()

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
