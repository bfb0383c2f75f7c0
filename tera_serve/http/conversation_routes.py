"""The generation routes whose body is one conversation (Chat Completions, Anthropic
Messages), served by one handler over the protocol table's endpoints.

Read the body (bounded, in the CPU pool), translate it, admit and prepare it, then answer
in the endpoint's frames or body: the route itself only frames bytes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tera_serve.adapters.protocols import CHAT_COMPLETIONS, MESSAGES, ConversationEndpoint
from tera_serve.http.body import read_model, translated
from tera_serve.http.openapi import json_body
from tera_serve.http.route_support import (
    Answering,
    admit_conversation,
    check_accepting,
    context_of,
    respond,
)

CONVERSATION_ENDPOINTS: tuple[ConversationEndpoint[Any, Any], ...] = (CHAT_COMPLETIONS, MESSAGES)


def _handler(endpoint: ConversationEndpoint[Any, Any]) -> Any:
    async def generate(request: Request) -> Response:
        context = context_of(request)
        check_accepting(context)
        body = await read_model(endpoint.body, request, context)
        conversation = await translated(endpoint.translate, body)
        served, prepared = await admit_conversation(
            request, context, conversation, stream=bool(body.stream)
        )
        options = endpoint.options(body, served, context.config)
        answering = Answering(
            lambda answer: endpoint.encoder(answer, options),
            lambda answer: endpoint.folder(answer, options),
        )
        return await respond(request, context, served, prepared, answering)

    return generate


def build_conversation_router() -> APIRouter:
    router = APIRouter()
    for endpoint in CONVERSATION_ENDPOINTS:
        router.add_api_route(
            endpoint.path,
            _handler(endpoint),
            methods=["POST"],
            openapi_extra=json_body(endpoint.body),
            name=endpoint.path,
        )
    return router
