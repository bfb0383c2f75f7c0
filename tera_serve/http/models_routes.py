"""GET /v1/models and GET /v1/models/{id}: the served models the key may use, with their
Tera fields (context, pricing, features, modalities)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tera_serve.http.route_support import (
    context_of,
    guard_of,
    json_response,
)
from tera_serve.service.model_card import model_card


def build_models_router() -> APIRouter:
    router = APIRouter()

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

    return router
