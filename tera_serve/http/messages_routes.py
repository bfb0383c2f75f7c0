"""The Anthropic Messages route beside POST /v1/messages (a conversation route):
POST /v1/messages/count_tokens.

Errors under /v1/messages take Anthropic's shape (the protocol table); keys (Bearer or
`x-api-key`), scopes, limits and the access log are the same as on the Tera routes.
`anthropic-version` and `anthropic-beta` headers (and Claude Code's `?beta=true` query) are
accepted as sent.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tera_serve.adapters.messages import messages_conversation
from tera_serve.http.body import read_model, translated
from tera_serve.http.openapi import json_body
from tera_serve.http.route_support import admit, context_of, json_response, model_or_default
from tera_serve.protocol.messages import MessagesCountRequest
from tera_serve.service.prepare import count_prompt_tokens


def build_messages_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/messages/count_tokens", openapi_extra=json_body(MessagesCountRequest))
    async def count_tokens(request: Request) -> Response:
        context = context_of(request)
        body = await read_model(MessagesCountRequest, request, context)
        served = await admit(request, context, model_or_default(body.model, context))
        conversation = await translated(messages_conversation, body)
        count = await count_prompt_tokens(conversation, served, context.config)
        return json_response({"input_tokens": count})

    return router
