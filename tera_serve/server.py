"""Run the app under uvicorn with tera-serve's lifecycle rules."""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType
from typing import Any

import uvicorn

from tera_serve.adapters.protocols import error_json
from tera_serve.config import ServerConfig
from tera_serve.http.app import create_app
from tera_serve.http.context import ServerContext
from tera_serve.security.slow_clients import guarded_h11_protocol
from tera_serve.service.loading import EngineFactory

logger = logging.getLogger(__name__)

ENGINE_WATCH_INTERVAL_S = 1.0
DRAIN_POLL_S = 0.1


async def watch_engines(context: ServerContext, server: uvicorn.Server) -> None:
    """If an engine dies, /health turns 503 at once and the process exits non-zero."""
    while not server.should_exit:
        await asyncio.sleep(ENGINE_WATCH_INTERVAL_S)
        if server.should_exit:
            return  # shutting down: engines that close now are not a failure
        for served in context.registry.ready_models():
            if not served.engine.is_healthy():
                logger.error(
                    "engine of %s died; exiting so a supervisor restarts us",
                    served.config.served_id,
                )
                context.engine_failed = True
                server.should_exit = True
                return


class DrainingServer(uvicorn.Server):
    """uvicorn.Server whose first SIGTERM drains rather than stops.

    While draining, the socket stays open so a new request gets a 503 (not a refused
    connection) and /health a 503; once nothing is in flight, or after drain_timeout_s, the
    server stops and the process exits 0. SIGINT or a second SIGTERM stop as uvicorn does.
    """

    def __init__(self, config: uvicorn.Config, context: ServerContext) -> None:
        super().__init__(config)
        self.context = context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[Any] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self.context.draining and self._loop is not None:
            self.context.draining = True
            # A signal handler may run between any two bytecodes: hand over to the loop.
            self._loop.call_soon_threadsafe(self._start_drain)
            return
        super().handle_exit(sig, frame)

    def _start_drain(self) -> None:
        self._drain_task = asyncio.get_running_loop().create_task(self.drain())

    async def drain(self) -> None:
        self.context.draining = True
        security = self.context.security
        timeout = self.context.config.drain_timeout_s
        logger.info(
            "draining: %d requests in flight, waiting up to %g s", security.in_flight, timeout
        )
        deadline = asyncio.get_running_loop().time() + timeout
        while security.in_flight > 0 and asyncio.get_running_loop().time() < deadline:
            if self.should_exit:
                return
            await asyncio.sleep(DRAIN_POLL_S)
        if security.in_flight > 0:
            logger.warning("drain timeout: stopping with %d requests in flight", security.in_flight)
        self.should_exit = True


def build_server(context: ServerContext) -> DrainingServer:
    config = context.config
    uv_config = uvicorn.Config(
        create_app(context),
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=5,
        # Requests still running after the drain get this long before they are cancelled.
        timeout_graceful_shutdown=5,
        lifespan="on",
        # h11, not httptools: h11 bounds the request head (httptools has no limit).
        http=guarded_h11_protocol(
            config.header_timeout_s, config.max_header_bytes, error_json, config.body_timeout_s
        ),
        h11_max_incomplete_event_size=config.max_header_bytes,
    )
    return DrainingServer(uv_config, context)


def run_server(config: ServerConfig, engine_factory: EngineFactory) -> int:
    context = ServerContext(config=config, engine_factory=engine_factory)
    server = build_server(context)

    async def serve() -> None:
        watcher = asyncio.create_task(watch_engines(context, server))
        keys = context.security.keys
        # SIGHUP re-reads the keys file (and would otherwise end the process).
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, keys.reload if keys is not None else lambda: None
        )
        try:
            await server.serve()
        finally:
            watcher.cancel()
            context.security.workers.pool.close()

    logger.info("tera-serve listening on http://%s:%d/v1", config.host, config.port)
    asyncio.run(serve())
    return 1 if context.engine_failed else 0
