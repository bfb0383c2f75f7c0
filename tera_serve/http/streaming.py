"""Drive a prepared generation to an SSE body or a folded JSON body.

After the 200 is sent, failures become an SSE error frame followed by `data: [DONE]`.
Closing the event iterator (client gone, timeout) aborts every engine request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import Request

from tera_serve.engine.base import Engine
from tera_serve.errors import ClientDisconnectedError, RequestTimeoutError, TeraError
from tera_serve.metrics import GenerationObserver
from tera_serve.service.failures import as_tera_error, is_expected
from tera_serve.service.generation import ChoiceEvent, run_choices
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.usage import UsageCounter

logger = logging.getLogger(__name__)


class ChunkEncoder(Protocol):
    """A wire protocol's stream encoder of the event stream."""

    def start_frames(self) -> list[bytes]:
        """Frames sent before the first event (e.g. Anthropic's message_start)."""
        ...

    def frames(self, event: ChoiceEvent) -> list[bytes]: ...

    def end_frames(self, usage: UsageCounter) -> list[bytes]:
        """Frames after the last event (usage, the protocol's terminator)."""
        ...

    def error_frames(self, error: TeraError) -> list[bytes]:
        """How this protocol reports a failure after the 200 (then the stream ends)."""
        ...


Finish = Callable[[], Awaitable[None]]
"""Awaited once the whole response is known and before the client can read its end (the
Responses store keeps it there, so a client that chains at once finds it)."""


class Folder(Protocol):
    usage: UsageCounter

    def add(self, event: ChoiceEvent) -> None: ...

    def response(self) -> dict[str, Any]: ...


async def sse_body(
    prepared: PreparedGeneration,
    engine: Engine,
    encoder: ChunkEncoder,
    timeout_s: float,
    observer: GenerationObserver,
    finish: Finish | None = None,
) -> AsyncIterator[bytes]:
    observer.start()
    usage = UsageCounter.of(prepared)
    events = run_choices(prepared, engine)
    outcome = "ok"
    try:
        for frame in encoder.start_frames():
            yield frame
        async with asyncio.timeout(timeout_s):
            async for event in events:
                usage.add(event)
                observer.on_tokens(event.new_tokens, event.finish_reason)
                frames = encoder.frames(event)
                if frames:
                    # One write per event: the final event's text and `delta: {}` frames
                    # go out together (same bytes, one ASGI send and syscall fewer).
                    yield frames[0] if len(frames) == 1 else b"".join(frames)
            ending = encoder.end_frames(usage)
            if finish is not None:
                await finish()
    except TimeoutError:
        outcome = "timeout"
        ending = encoder.error_frames(RequestTimeoutError(timeout_s))
    except (asyncio.CancelledError, GeneratorExit):
        outcome = "client_closed"
        raise
    except Exception as exc:
        outcome = "error"
        if not is_expected(exc):
            logger.exception("stream %s failed", prepared.request_id)
        ending = encoder.error_frames(as_tera_error(exc))
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        observer.finish(usage.prompt_tokens, usage.completion_tokens, outcome, usage.cached_tokens)
    yield b"".join(ending)


async def _wait_for_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def folded_body(
    prepared: PreparedGeneration,
    engine: Engine,
    folder: Folder,
    request: Request,
    timeout_s: float,
    observer: GenerationObserver,
    finish: Finish | None = None,
) -> dict[str, Any]:
    """Collect the whole response; a client that goes away aborts the generation."""

    async def collect() -> dict[str, Any]:
        events = run_choices(prepared, engine)
        try:
            async for event in events:
                folder.add(event)
                observer.on_tokens(event.new_tokens, event.finish_reason)
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        body = folder.response()
        if finish is not None:
            await finish()
        return body

    observer.start()
    work = asyncio.create_task(collect())
    watcher = asyncio.create_task(_wait_for_disconnect(request))
    outcome = "error"
    try:
        done, _ = await asyncio.wait(
            {work, watcher}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if work in done:
            try:
                body = work.result()
            except Exception as exc:
                if not is_expected(exc):
                    logger.exception("request %s failed", prepared.request_id)
                raise as_tera_error(exc) from exc
            outcome = "ok"
            return body
        if watcher in done:
            outcome = "client_closed"
            raise ClientDisconnectedError("The client closed the connection.")
        outcome = "timeout"
        raise RequestTimeoutError(timeout_s)
    finally:
        for task in (work, watcher):
            task.cancel()
        for task in (work, watcher):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        usage = folder.usage
        observer.finish(usage.prompt_tokens, usage.completion_tokens, outcome, usage.cached_tokens)
