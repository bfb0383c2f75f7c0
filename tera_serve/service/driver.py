"""Drive a prepared generation to a stream of frames or to one folded body.

After the 200 is sent, failures become the protocol's error frames and the stream ends.
Closing the step iterator (client gone, timeout) aborts every engine request. The HTTP
layer only frames the bytes: it hands in how to notice that the client went away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from tera_serve.core.encoding import Folder, StreamEncoder
from tera_serve.core.events import ChoiceEnd
from tera_serve.core.usage import UsageCounter
from tera_serve.engine.base import Engine
from tera_serve.errors import ClientDisconnectedError, RequestTimeoutError
from tera_serve.metrics import GenerationObserver
from tera_serve.service.failures import as_tera_error, is_expected
from tera_serve.service.generation import run_choices
from tera_serve.service.prepared import PreparedGeneration

logger = logging.getLogger(__name__)

Disconnected = Callable[[], Coroutine[Any, Any, None]]
"""Returns once the client has gone away."""


def logged_finish(end: ChoiceEnd) -> str:
    """The finish reason in the access log and metrics (the Tera contract's names)."""
    return "tool_calls" if end.called_tools and end.reason == "stop" else end.reason


def _counter(prepared: PreparedGeneration) -> UsageCounter:
    answer = prepared.answer
    return UsageCounter(answer.prompt_tokens, choices_per_prompt=answer.choices_per_prompt)


def _finish(observer: GenerationObserver, usage: UsageCounter, outcome: str) -> None:
    observer.finish(usage.prompt_tokens, usage.completion_tokens, outcome, usage.cached_tokens)


async def stream_frames(
    prepared: PreparedGeneration,
    engine: Engine,
    encoder: StreamEncoder,
    timeout_s: float,
    observer: GenerationObserver,
) -> AsyncIterator[bytes]:
    observer.start()
    usage = _counter(prepared)
    steps = run_choices(prepared, engine)
    outcome = "ok"
    try:
        for frame in encoder.start_frames():
            yield frame
        async with asyncio.timeout(timeout_s):
            async for step in steps:
                usage.add(step)
                observer.on_tokens(
                    step.new_tokens, None if step.end is None else logged_finish(step.end)
                )
                frames = encoder.frames(step)
                if frames:
                    # One write per step: the last step's text and its final frame go out
                    # together (same bytes, one ASGI send and syscall fewer).
                    yield frames[0] if len(frames) == 1 else b"".join(frames)
            ending = encoder.end_frames(usage.snapshot())
            await encoder.complete()
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
        await steps.aclose()  # type: ignore[attr-defined]
        _finish(observer, usage, outcome)
    yield b"".join(ending)


async def folded_body(
    prepared: PreparedGeneration,
    engine: Engine,
    folder: Folder,
    disconnected: Disconnected,
    timeout_s: float,
    observer: GenerationObserver,
) -> dict[str, Any]:
    """Collect the whole response; a client that goes away aborts the generation."""
    usage = _counter(prepared)

    async def collect() -> dict[str, Any]:
        steps = run_choices(prepared, engine)
        try:
            async for step in steps:
                usage.add(step)
                folder.add(step)
                observer.on_tokens(
                    step.new_tokens, None if step.end is None else logged_finish(step.end)
                )
        finally:
            await steps.aclose()  # type: ignore[attr-defined]
        body = folder.response(usage.snapshot())
        await folder.complete()
        return body

    observer.start()
    work = asyncio.create_task(collect())
    watcher = asyncio.create_task(disconnected())
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
        _finish(observer, usage, outcome)
