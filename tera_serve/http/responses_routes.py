"""The OpenAI Responses routes: POST /v1/responses, GET/DELETE /v1/responses/{id} and
GET /v1/responses/{id}/input_items.

Errors take OpenAI's shape; keys, scopes, limits, admission, metrics and the access log are
the same as on Chat Completions. Stored responses live in this process's memory
(`service/response_store.py`), each visible only to the key that created it.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tera_serve.adapters.responses import input_messages, responses_conversation
from tera_serve.adapters.responses_body import ResponseHead, echoed_settings
from tera_serve.adapters.responses_output import ResponsesFolder, ResponsesStreamEncoder
from tera_serve.core.conversation import Message
from tera_serve.http.body import read_model
from tera_serve.http.openapi import json_body
from tera_serve.http.route_support import (
    OutputShape,
    admit_conversation,
    check_accepting,
    context_of,
    guard_of,
    json_response,
    respond,
)
from tera_serve.protocol.responses import ResponsesRequest
from tera_serve.service.prepared import Delivery
from tera_serve.service.response_store import ResponseStore


def _owner(request: Request) -> str | None:
    key = guard_of(request).key
    return key.name if key is not None else None


def _input_items(body: ResponsesRequest, response_id: str) -> tuple[dict[str, Any], ...]:
    if isinstance(body.input, str):
        items: list[dict[str, Any]] = [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": body.input}],
            }
        ]
    else:
        items = [
            item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in body.input
        ]
    for index, item in enumerate(items):
        item.setdefault("id", f"in_{response_id.removeprefix('resp_')}_{index}")
    return tuple(items)


def build_responses_router(store: ResponseStore | None = None) -> APIRouter:
    router = APIRouter()
    responses = store if store is not None else ResponseStore()

    @router.post("/v1/responses", openapi_extra=json_body(ResponsesRequest))
    async def create_response(request: Request) -> Response:
        context = context_of(request)
        check_accepting(context)
        body = await read_model(ResponsesRequest, request, context)
        owner = _owner(request)
        history: tuple[Message, ...] = ()
        if body.previous_response_id is not None:
            earlier = responses.get(body.previous_response_id, owner, "previous_response_id")
            history = earlier.history
        conversation = responses_conversation(body, history)
        served, prepared = await admit_conversation(
            request, context, conversation, Delivery(stream=body.stream), "resp_"
        )
        head = ResponseHead(
            prepared.response_id, prepared.created, body.model, echoed_settings(body)
        )

        def keep(response: dict[str, Any], turn: Message) -> None:
            full = (*history, *input_messages(body), turn)
            responses.put(response, owner, _input_items(body, response["id"]), full)

        on_final = keep if body.store else None
        shape = OutputShape(
            functools.partial(ResponsesStreamEncoder, head=head, on_final=on_final),
            functools.partial(ResponsesFolder, head=head, on_final=on_final),
        )
        return await respond(request, context, served, prepared, shape)

    @router.get("/v1/responses/{response_id}")
    async def get_response(request: Request, response_id: str) -> Response:
        return json_response(responses.get(response_id, _owner(request)).response)

    @router.delete("/v1/responses/{response_id}")
    async def delete_response(request: Request, response_id: str) -> Response:
        responses.delete(response_id, _owner(request))
        return json_response({"id": response_id, "object": "response", "deleted": True})

    @router.get("/v1/responses/{response_id}/input_items")
    async def input_items(request: Request, response_id: str) -> Response:
        items = list(responses.get(response_id, _owner(request)).input_items)
        return json_response(
            {
                "object": "list",
                "data": items,
                "first_id": items[0]["id"] if items else None,
                "last_id": items[-1]["id"] if items else None,
                "has_more": False,
            }
        )

    return router
