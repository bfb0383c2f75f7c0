"""Run a prepared request's engine streams and parse them into per-choice events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tera_serve.engine.base import Engine, EngineRequest, PositionLogprobs
from tera_serve.parsing.base import OutputParser, ParsedDelta
from tera_serve.service.failures import engine_finish_error
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
    stop_sequence: str | None = None
    """The client's stop string that ended the choice (final event, finish `stop`)."""
    prompt_logprobs: list[PositionLogprobs | None] | None = None
    cached_tokens: int | None = None
    """Both from the engine's first delta of the choice (see EngineDelta)."""


def finish_reason(engine_reason: str, *, called_tools: bool, forced_function: bool) -> str:
    """The service's finish-reason policy (parsers only report what they read)."""
    failure = engine_finish_error(engine_reason)
    if failure is not None:
        raise failure
    if called_tools and not forced_function and engine_reason == "stop":
        return "tool_calls"
    return engine_reason


def _matched_stop(stop_reason: int | str | None, stops: tuple[str, ...]) -> str | None:
    return stop_reason if isinstance(stop_reason, str) and stop_reason in stops else None


async def _run_one(
    index: int,
    engine: Engine,
    request: EngineRequest,
    parser: OutputParser,
    forced_function: bool,
) -> AsyncIterator[ChoiceEvent]:
    stream = engine.generate(request)
    called_tools = False
    try:
        async for delta in stream:
            parsed = parser.feed(delta.token_ids, delta.text)
            if delta.finish_reason is None:
                called_tools = called_tools or bool(parsed.tool_calls)
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
            called_tools = called_tools or bool(parsed.tool_calls)
            yield ChoiceEvent(
                index,
                parsed,
                delta.logprobs,
                len(delta.token_ids),
                finish_reason=finish_reason(
                    delta.finish_reason,
                    called_tools=called_tools,
                    forced_function=forced_function,
                ),
                reasoning_tokens=parser.reasoning_tokens,
                stop_sequence=_matched_stop(delta.stop_reason, request.sampling.stop),
                prompt_logprobs=delta.prompt_logprobs,
                cached_tokens=delta.cached_tokens,
            )
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def run_choices(prepared: PreparedGeneration, engine: Engine) -> AsyncIterator[ChoiceEvent]:
    """Yield events of all choices as they come. Closing this iterator aborts them all."""
    requests = prepared.engine_requests
    if len(requests) == 1:
        async for event in _run_one(
            0, engine, requests[0], prepared.make_parser(), prepared.forced_function
        ):
            yield event
        return
    queue: asyncio.Queue[ChoiceEvent | BaseException | None] = asyncio.Queue()

    async def pump(index: int, request: EngineRequest) -> None:
        try:
            async for event in _run_one(
                index, engine, request, prepared.make_parser(), prepared.forced_function
            ):
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
