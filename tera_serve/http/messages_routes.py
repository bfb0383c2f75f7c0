"""The Anthropic Messages routes: POST /v1/messages and /v1/messages/count_tokens.

Errors on these paths take Anthropic's shape (`errors.error_body_for_path`); keys (Bearer or
`x-api-key`), scopes, limits, admission, metrics and the access log are the same as on the
OpenAI routes. `anthropic-version` and `anthropic-beta` headers (and Claude Code's
`?beta=true` query) are accepted as sent.
"""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tera_serve.adapters.messages import messages_conversation, thinking_omitted
from tera_serve.adapters.messages_output import MessagesFolder, MessagesStreamEncoder
from tera_serve.http.body import read_model, translated
from tera_serve.http.openapi import json_body
from tera_serve.http.route_support import (
    OutputShape,
    admit,
    admit_conversation,
    check_accepting,
    context_of,
    json_response,
    model_or_default,
    respond,
)
from tera_serve.protocol.messages import MessagesCountRequest, MessagesRequest
from tera_serve.service.prepare import count_prompt_tokens
from tera_serve.service.prepared import Delivery


def _shape(omit_thinking: bool) -> OutputShape:
    return OutputShape(
        functools.partial(MessagesStreamEncoder, omit_thinking=omit_thinking),
        functools.partial(MessagesFolder, omit_thinking=omit_thinking),
    )


def build_messages_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/messages", openapi_extra=json_body(MessagesRequest))
    async def create_message(request: Request) -> Response:
        context = context_of(request)
        check_accepting(context)
        body = await read_model(MessagesRequest, request, context)
        conversation = await translated(messages_conversation, body)
        served, prepared = await admit_conversation(
            request, context, conversation, Delivery(stream=body.stream), "msg_"
        )
        return await respond(request, context, served, prepared, _shape(thinking_omitted(body)))

    @router.post("/v1/messages/count_tokens", openapi_extra=json_body(MessagesCountRequest))
    async def count_tokens(request: Request) -> Response:
        context = context_of(request)
        body = await read_model(MessagesCountRequest, request, context)
        served = await admit(request, context, model_or_default(body.model, context))
        conversation = await translated(messages_conversation, body)
        count = await count_prompt_tokens(conversation, served, context.config)
        return json_response({"input_tokens": count})

    return router
