"""The FastAPI application: its routes, error mapping and middleware, and its lifespan
(the start-up work itself: http/startup.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from tera_serve import __version__
from tera_serve.adapters.protocols import error_json
from tera_serve.http.access import AccessLogMiddleware
from tera_serve.http.completions_routes import build_completions_router
from tera_serve.http.context import ServerContext
from tera_serve.http.conversation_routes import build_conversation_router
from tera_serve.http.embeddings_routes import build_embeddings_router
from tera_serve.http.errors import install_error_handlers
from tera_serve.http.messages_routes import build_messages_router
from tera_serve.http.models_routes import build_models_router
from tera_serve.http.openapi import publish_request_schemas
from tera_serve.http.operations_routes import build_operations_router
from tera_serve.http.playground import build_playground_router
from tera_serve.http.request_id import RequestIdMiddleware
from tera_serve.http.responses_routes import build_responses_router
from tera_serve.http.speech_routes import build_speech_router
from tera_serve.http.startup import load_models_and_freeze, open_response_store
from tera_serve.http.stored_responses_routes import build_stored_responses_router
from tera_serve.http.tokenize_routes import build_tokenize_router
from tera_serve.security.middleware import GuardMiddleware


def create_app(context: ServerContext) -> FastAPI:
    for config in context.config.models:
        if not context.speech.is_speech(config.served_id):
            context.registry.add(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await open_response_store(context)
        loader = asyncio.create_task(load_models_and_freeze(context))
        app.state.loader = loader
        try:
            yield
        finally:
            loader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loader
            for served in context.registry.ready_models():
                with contextlib.suppress(Exception):
                    await served.engine.close()
            await context.speech.close()
            with contextlib.suppress(Exception):
                await context.responses.close()

    app = FastAPI(
        title="tera-serve",
        version=__version__,
        description="Self-hosted, OpenAI-compatible inference server (Tera API).",
        lifespan=lifespan,
    )
    app.state.context = context
    install_error_handlers(app)
    app.include_router(build_conversation_router())
    app.include_router(build_completions_router())
    app.include_router(build_models_router())
    app.include_router(build_operations_router())
    app.include_router(build_tokenize_router())
    app.include_router(build_messages_router())
    app.include_router(build_responses_router())
    app.include_router(build_stored_responses_router())
    if context.config.playground:
        app.include_router(build_playground_router())
    app.include_router(build_speech_router())
    app.include_router(build_embeddings_router(context.metrics.registry))
    publish_request_schemas(app)
    # Starlette wraps in reverse order: the request id is set first, then the access log,
    # then keys and limits (whose clean-up runs when the whole response has ended).
    app.add_middleware(
        GuardMiddleware,
        security=context.security,
        metrics=context.metrics,
        render_error=error_json,
    )
    app.add_middleware(AccessLogMiddleware, metrics=context.metrics)
    app.add_middleware(RequestIdMiddleware)
    return app
