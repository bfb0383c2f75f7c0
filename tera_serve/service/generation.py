"""Run a prepared request's engine streams and parse them into per-choice events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tera_serve.engine.base import Engine, EngineRequest, PositionLogprobs
from tera_serve.errors import ServerError
from tera_serve.parsing.base import OutputParser, ParsedDelta
from tera_serve.service.prepared import PreparedGeneration


@dataclass
class ChoiceEvent:
    index: int
    delta: ParsedDelta
    logprobs: list[PositionLogprobs] | None
    new_tokens: int
    finish_reason: str | None = None
    reasoning_tokens: int = 0
    """Reasoning tokens of the whole choice; set on the final event."""
    prompt_logprobs: list[PositionLogprobs | None] | None = None
    cached_tokens: int | None = None
    """Both from the engine's first delta of the choice (see EngineDelta)."""


def _finish_reason(engine_reason: str, parser: OutputParser) -> str:
    if engine_reason == "abort":
        raise ServerError("The engine aborted the request.", code="engine_abort")
    if engine_reason == "error":
        raise ServerError(
            "The engine could not run this request (for example, its grammar did not compile "
            "in time).",
            code="engine_error",
        )
    if parser.called_tools and engine_reason == "stop":
        return "tool_calls"
    return engine_reason


async def _run_one(
    index: int, engine: Engine, request: EngineRequest, parser: OutputParser
) -> AsyncIterator[ChoiceEvent]:
    stream = engine.generate(request)
    try:
        async for delta in stream:
            parsed = parser.feed(delta.token_ids, delta.text)
            if delta.finish_reason is None:
                yield ChoiceEvent(
                    index,
                    parsed,
                    delta.logprobs,
                    len(delta.token_ids),
                    prompt_logprobs=delta.prompt_logprobs,
                    cached_tokens=delta.cached_tokens,
                )
                continue
            parsed.extend(parser.finish())
            yield ChoiceEvent(
                index,
                parsed,
                delta.logprobs,
                len(delta.token_ids),
                finish_reason=_finish_reason(delta.finish_reason, parser),
                reasoning_tokens=parser.reasoning_tokens,
                prompt_logprobs=delta.prompt_logprobs,
                cached_tokens=delta.cached_tokens,
            )
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def run_choices(prepared: PreparedGeneration, engine: Engine) -> AsyncIterator[ChoiceEvent]:
    """Yield events of all choices as they come. Closing this iterator aborts them all."""
    requests = prepared.engine_requests
    if len(requests) == 1:
        async for event in _run_one(0, engine, requests[0], prepared.make_parser()):
            yield event
        return
    queue: asyncio.Queue[ChoiceEvent | BaseException | None] = asyncio.Queue()

    async def pump(index: int, request: EngineRequest) -> None:
        try:
            async for event in _run_one(index, engine, request, prepared.make_parser()):
                queue.put_nowait(event)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(None)

    tasks = [asyncio.create_task(pump(i, r)) for i, r in enumerate(requests)]
    remaining = len(tasks)
    try:
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
