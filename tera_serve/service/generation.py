"""Run a prepared request's engine streams: each choice's deltas go through the family's
parser chain, then the core's segmenter, and come out as typed steps (core/events.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from tera_serve.core.events import ChoiceEnd, FinishReason, Step
from tera_serve.core.segmenter import Segmenter
from tera_serve.engine.base import Engine, EngineDelta, EngineRequest
from tera_serve.parsing.base import OutputParser
from tera_serve.service.failures import engine_finish_error
from tera_serve.service.prepared import PreparedGeneration


def neutral_finish(engine_reason: str) -> FinishReason:
    """`stop` or `length`; an aborted or failed engine request raises its error."""
    failure = engine_finish_error(engine_reason)
    if failure is not None:
        raise failure
    return "length" if engine_reason == "length" else "stop"


def _matched_stop(stop_reason: int | str | None, stops: tuple[str, ...]) -> str | None:
    return stop_reason if isinstance(stop_reason, str) and stop_reason in stops else None


def _last_step(
    index: int,
    delta: EngineDelta,
    finish_reason: str,
    request: EngineRequest,
    parser: OutputParser,
    segmenter: Segmenter,
) -> Step:
    parsed = parser.feed(delta.token_ids, delta.text)
    parsed.extend(parser.finish())
    events = segmenter.feed(parsed) + segmenter.close()
    end = ChoiceEnd(
        reason=neutral_finish(finish_reason),
        called_tools=segmenter.called_tools,
        stop_sequence=_matched_stop(delta.stop_reason, request.sampling.stop),
        reasoning_tokens=parser.reasoning_tokens,
    )
    return Step(
        index,
        events,
        len(delta.token_ids),
        delta.logprobs,
        end,
        delta.prompt_logprobs,
        delta.cached_tokens,
    )


async def _run_one(
    index: int, engine: Engine, request: EngineRequest, parser: OutputParser
) -> AsyncIterator[Step]:
    stream = engine.generate(request)
    segmenter = Segmenter()
    try:
        async for delta in stream:
            if delta.finish_reason is not None:
                yield _last_step(index, delta, delta.finish_reason, request, parser, segmenter)
                continue
            yield Step(
                index,
                segmenter.feed(parser.feed(delta.token_ids, delta.text)),
                len(delta.token_ids),
                delta.logprobs,
                None,
                delta.prompt_logprobs,
                delta.cached_tokens,
            )
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def run_choices(prepared: PreparedGeneration, engine: Engine) -> AsyncIterator[Step]:
    """Yield the steps of all choices as they come. Closing this iterator aborts them all."""
    requests = prepared.engine_requests
    if len(requests) == 1:
        async for step in _run_one(0, engine, requests[0], prepared.make_parser()):
            yield step
        return
    queue: asyncio.Queue[Step | BaseException | None] = asyncio.Queue()

    async def pump(index: int, request: EngineRequest) -> None:
        try:
            async for step in _run_one(index, engine, request, prepared.make_parser()):
                queue.put_nowait(step)
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
