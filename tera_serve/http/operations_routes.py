"""GET /health (models, draining, engine state; details only to a key) and GET /metrics
(Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from tera_serve.http.route_support import (
    context_of,
    guard_of,
    json_response,
)


def build_operations_router() -> APIRouter:
    router = APIRouter()

    @router.get("/health")
    async def health(request: Request) -> Response:
        context = context_of(request)
        states = {k: v.value for k, v in context.registry.states().items()}
        states.update(context.speech.states())
        healthy = (
            (context.registry.all_ready() or not context.registry.states())
            and context.speech.all_ready()
            and not context.draining
            and not context.engine_failed
        )
        status = "ok" if healthy else ("draining" if context.draining else "unavailable")
        if context.security.keys is not None and guard_of(request).key is None:
            return json_response({"status": status}, 200 if healthy else 503)  # no details
        unfinished = {
            served.config.served_id: served.engine.unfinished_requests()
            for served in context.registry.ready_models()
        }
        return json_response(
            {"status": status, "models": states, "engine_unfinished_requests": unfinished},
            200 if healthy else 503,
        )

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        context = context_of(request)
        body = generate_latest(context.metrics.registry) + generate_latest(REGISTRY)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
