"""POST /v1/responses: the OpenAI Responses API's generation route.

Errors take the Tera (OpenAI) shape; keys, scopes, limits, admission, metrics and the
access log are the same as on Chat Completions. A `previous_response_id` is read from the
server's store, scoped to the key; a finished response is stored before the client
receives its end (the last stream event, or the body), so a client that chains at once
finds it. The stored responses' own routes: http/stored_responses_routes.py.
"""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tera_serve.adapters.responses import carried_messages, responses_translation
from tera_serve.adapters.responses_body import OutputRules, ResponseHead, echoed_settings
from tera_serve.adapters.responses_keeping import ResponseKeeper, input_items
from tera_serve.adapters.responses_output import ResponsesFolder, ResponsesStreamEncoder
from tera_serve.adapters.responses_tools import OfferedTools
from tera_serve.bounded_work import offload
from tera_serve.core.conversation import Message
from tera_serve.http.body import read_model, translated
from tera_serve.http.openapi import json_body
from tera_serve.http.route_support import (
    Answering,
    admit_conversation,
    check_accepting,
    context_of,
    key_identity,
    respond,
)
from tera_serve.protocol.responses import ResponsesRequest
from tera_serve.service.reasoning_seal import ReasoningSeal


def _output_rules(
    body: ResponsesRequest, tools: OfferedTools, seal: ReasoningSeal, model: str
) -> OutputRules:
    sealed = "reasoning.encrypted_content" in (body.include or ())
    return OutputRules(
        tools=tools,
        seal=functools.partial(seal.seal, model=model) if sealed else None,
    )


def build_responses_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/responses", openapi_extra=json_body(ResponsesRequest))
    async def create_response(request: Request) -> Response:
        context = context_of(request)
        check_accepting(context)
        body = await read_model(ResponsesRequest, request, context)
        owner = key_identity(request)
        history: tuple[Message, ...] = ()
        if body.previous_response_id is not None:
            earlier = await context.responses.get(
                body.previous_response_id, owner, "previous_response_id"
            )
            history = earlier.history
        # Replayed reasoning opens only for the model it was sealed for: its served id,
        # whichever alias named it.
        sealed_for = context.registry.canonical_id(body.model)
        unseal = functools.partial(context.reasoning_seal.unseal, model=sealed_for)
        translation = await translated(responses_translation, body, history, unseal)
        conversation = translation.conversation
        served, prepared = await admit_conversation(
            request, context, conversation, stream=body.stream
        )
        answer = prepared.answer
        head = ResponseHead(
            "resp_" + answer.request_id,
            answer.created,
            body.model,
            echoed_settings(body),
            _output_rules(body, translation.tools, context.reasoning_seal, sealed_for),
        )
        keeper: ResponseKeeper | None = None
        if body.store:
            items = await offload(input_items, body, head.response_id, what="reading the request")
            carried = carried_messages(body, conversation)
            keeper = ResponseKeeper(context.responses, owner, items, carried)
        keep = keeper.keep if keeper is not None else None
        answering = Answering(
            functools.partial(ResponsesStreamEncoder, head=head, keep=keep),
            functools.partial(ResponsesFolder, head=head, keep=keep),
        )
        return await respond(request, context, served, prepared, answering)

    return router
