"""The OpenAI Responses routes: POST /v1/responses, GET/DELETE /v1/responses/{id} and
GET /v1/responses/{id}/input_items.

Errors take OpenAI's shape; keys, scopes, limits, admission, metrics and the access log are
the same as on Chat Completions. Stored responses live in the server's SQLite store
(`service/response_store.py`, every call awaited off the event loop), each visible only to
the key that created it. A finished response is stored before the client receives its end
(the last stream event, or the body), so a client that chains at once finds it.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tera_serve.adapters.responses import carried_messages, responses_translation
from tera_serve.adapters.responses_body import OutputRules, ResponseHead, echoed_settings
from tera_serve.adapters.responses_output import ResponsesFolder, ResponsesStreamEncoder
from tera_serve.adapters.responses_tools import OfferedTools
from tera_serve.bounded_work import offload
from tera_serve.core.conversation import Message
from tera_serve.http.body import read_model, translated
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
from tera_serve.service.reasoning_seal import ReasoningSeal
from tera_serve.service.response_store import ResponseStore

logger = logging.getLogger(__name__)


def _owner(request: Request) -> str | None:
    """The key's identity (its secret's hash), never its name: two keys never share one."""
    key = guard_of(request).key
    return key.identity if key is not None else None


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


def _output_rules(
    body: ResponsesRequest, tools: OfferedTools, seal: ReasoningSeal, model: str
) -> OutputRules:
    sealed = "reasoning.encrypted_content" in (body.include or ())
    return OutputRules(
        tools=tools,
        seal=functools.partial(seal.seal, model=model) if sealed else None,
    )


class _Keeper:
    """Keeps a finished response: the encoder or folder hands it over as it ends (sync),
    then the route awaits the store before the client can read the end. What it keeps of
    the input (items, messages) is made before the first byte, in the CPU pool."""

    def __init__(
        self,
        store: ResponseStore,
        owner: str | None,
        input_items: tuple[dict[str, Any], ...],
        carried: tuple[Message, ...],
    ) -> None:
        self._store = store
        self._owner = owner
        self._input_items = input_items
        self._carried = carried
        self._final: tuple[dict[str, Any], Message] | None = None

    def hand_over(self, response: dict[str, Any], turn: Message) -> None:
        self._final = (response, turn)

    async def store(self) -> None:
        if self._final is None:
            return
        response, turn = self._final
        self._final = None
        full = (*self._carried, turn)
        try:
            await self._store.put(response, self._owner, self._input_items, full)
        except Exception:
            # The answer itself is sound: deliver it, and say why it cannot be continued.
            logger.exception("response %s was not stored", response["id"])


def build_responses_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/responses", openapi_extra=json_body(ResponsesRequest))
    async def create_response(request: Request) -> Response:
        context = context_of(request)
        check_accepting(context)
        body = await read_model(ResponsesRequest, request, context)
        owner = _owner(request)
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
            request, context, conversation, Delivery(stream=body.stream), "resp_"
        )
        head = ResponseHead(
            prepared.response_id,
            prepared.created,
            body.model,
            echoed_settings(body),
            _output_rules(body, translation.tools, context.reasoning_seal, sealed_for),
        )
        keeper: _Keeper | None = None
        if body.store:
            items = await offload(
                _input_items, body, prepared.response_id, what="reading the request"
            )
            carried = carried_messages(body, conversation)
            keeper = _Keeper(context.responses, owner, items, carried)
        on_final = keeper.hand_over if keeper is not None else None
        shape = OutputShape(
            functools.partial(ResponsesStreamEncoder, head=head, on_final=on_final),
            functools.partial(ResponsesFolder, head=head, on_final=on_final),
            keeper.store if keeper is not None else None,
        )
        return await respond(request, context, served, prepared, shape)

    @router.get("/v1/responses/{response_id}")
    async def get_response(request: Request, response_id: str) -> Response:
        stored = await context_of(request).responses.get(response_id, _owner(request))
        return json_response(stored.response)

    @router.delete("/v1/responses/{response_id}")
    async def delete_response(request: Request, response_id: str) -> Response:
        await context_of(request).responses.delete(response_id, _owner(request))
        return json_response({"id": response_id, "object": "response", "deleted": True})

    @router.get("/v1/responses/{response_id}/input_items")
    async def input_items(request: Request, response_id: str) -> Response:
        stored = await context_of(request).responses.get(response_id, _owner(request))
        items = list(stored.input_items)
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
