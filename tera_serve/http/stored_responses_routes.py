"""The Responses API's stored responses: GET / DELETE /v1/responses/{id} and
GET /v1/responses/{id}/input_items.

Stored responses live in the server's store (`service/response_store.py`, every call
awaited off the event loop), each visible only to the key that created it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tera_serve.http.route_support import context_of, json_response, key_identity


def build_stored_responses_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/responses/{response_id}")
    async def get_response(request: Request, response_id: str) -> Response:
        stored = await context_of(request).responses.get(response_id, key_identity(request))
        return json_response(stored.response)

    @router.delete("/v1/responses/{response_id}")
    async def delete_response(request: Request, response_id: str) -> Response:
        await context_of(request).responses.delete(response_id, key_identity(request))
        return json_response({"id": response_id, "object": "response", "deleted": True})

    @router.get("/v1/responses/{response_id}/input_items")
    async def list_input_items(request: Request, response_id: str) -> Response:
        stored = await context_of(request).responses.get(response_id, key_identity(request))
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
