"""Run the app under uvicorn with tera-serve's lifecycle rules."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from tera_serve.config import ServerConfig
from tera_serve.http.app import create_app
from tera_serve.http.context import ServerContext
from tera_serve.service.loading import EngineFactory

logger = logging.getLogger(__name__)

ENGINE_WATCH_INTERVAL_S = 1.0


async def watch_engines(context: ServerContext, server: uvicorn.Server) -> None:
    """If an engine dies, /health turns 503 at once and the process exits non-zero."""
    while not server.should_exit:
        await asyncio.sleep(ENGINE_WATCH_INTERVAL_S)
        for served in context.registry.ready_models():
            if not served.engine.is_healthy():
                logger.error(
                    "engine of %s died; exiting so a supervisor restarts us",
                    served.config.served_id,
                )
                context.engine_failed = True
                server.should_exit = True
                return


def run_server(config: ServerConfig, engine_factory: EngineFactory) -> int:
    context = ServerContext(config=config, engine_factory=engine_factory)
    app = create_app(context)
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=30,
        lifespan="on",
    )
    server = uvicorn.Server(uv_config)

    async def serve() -> None:
        watcher = asyncio.create_task(watch_engines(context, server))
        try:
            await server.serve()
        finally:
            watcher.cancel()

    logger.info("tera-serve listening on http://%s:%d/v1", config.host, config.port)
    asyncio.run(serve())
    return 1 if context.engine_failed else 0
