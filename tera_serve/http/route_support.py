"""What every generation route shares: body reading, admission, responding."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from tera_serve.core.conversation import Conversation
from tera_serve.core.encoding import Folder, StreamEncoder
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.errors import (
    InvalidRequestError,
    ServerError,
    ServiceUnavailableError,
)
from tera_serve.http.context import ServerContext
from tera_serve.metrics import GenerationObserver, RequestRecord
from tera_serve.security.guard import RequestGuard
from tera_serve.service.driver import folded_body, stream_frames
from tera_serve.service.prepare import prepare
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.registry import ServedModel


@dataclass(frozen=True)
class Answering:
    """A wire protocol's two ways of answering one request: stream frames, or one body."""

    encoder: Callable[[PreparedAnswer], StreamEncoder]
    folder: Callable[[PreparedAnswer], Folder]


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
OMITTED_TOOLS_HEADER = "X-Tera-Omitted-Tools"
"""Names the hosted tools a request offered that this server left out (it cannot run
them): the request is served without them, on every protocol."""

logger = logging.getLogger(__name__)


def omitted_tools_headers(answer: PreparedAnswer) -> dict[str, str]:
    """The header naming the left-out hosted tools, logged once per request at INFO (a
    client that never reads headers still has a trace of why its model searched nothing;
    not a warning: Codex offers web_search on every turn, and the header is the signal)."""
    if not answer.omitted_tools:
        return {}
    names = ", ".join(answer.omitted_tools)
    logger.info(
        "request %s: hosted tools left out (this server does not run them): %s",
        answer.request_id,
        names,
    )
    return {OMITTED_TOOLS_HEADER: names}


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def context_of(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


def check_accepting(context: ServerContext) -> None:
    if context.draining:
        raise ServiceUnavailableError(
            "The server is shutting down.", code="shutting_down", headers={"Retry-After": "5"}
        )


def guard_of(request: Request) -> RequestGuard:
    """The request's key and limits (set by GuardMiddleware, which create_app installs)."""
    guard = request.scope.get("state", {}).get("guard")
    if not isinstance(guard, RequestGuard):
        raise ServerError("The request guard is missing.", code="internal_error")
    return guard


def key_identity(request: Request) -> str | None:
    """The key's identity (its secret's hash), never its name: two keys never share one.
    What the request stores (Responses) belongs to it."""
    key = guard_of(request).key
    return key.identity if key is not None else None


async def admit(
    request: Request, context: ServerContext, model_id: str, sequences: int = 1
) -> ServedModel:
    """Everything decided before tokenization (draining was checked before the body was
    read): the key's scope (403), the model (404), then an admission slot (503) for the
    request's sequences, held until the response ends."""
    guard = guard_of(request)
    guard.authorize_model(model_id, context.config.models)
    context.speech.check_text_model(model_id)
    served = context.registry.get(model_id)
    model = served.config.served_id
    record_of(request).model = model  # a served id: bounded label values
    started = time.perf_counter()
    try:
        await guard.admit(model, sequences)
    except ServiceUnavailableError as exc:
        context.metrics.rate_limited.labels(model, exc.code or "over_capacity").inc()
        raise
    context.metrics.queue_time.labels(model).observe(time.perf_counter() - started)
    return served


async def admit_generation(
    request: Request, context: ServerContext, model_id: str, sequences: int = 1
) -> ServedModel:
    """`admit` for a route that generates text: a pooling model is a 400 naming it."""
    guard_of(request).authorize_model(model_id, context.config.models)
    context.registry.check_generative(model_id)
    return await admit(request, context, model_id, sequences)


async def disconnected(request: Request) -> None:
    """Returns when the client has gone (once the body is read, only a disconnect comes)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def respond(
    request: Request,
    context: ServerContext,
    served: ServedModel,
    prepared: PreparedGeneration,
    answering: Answering,
) -> Response:
    """Stream the prepared generation in the protocol's frames, or fold it into its body."""
    timeout = context.config.request_timeout_s
    answer = prepared.answer
    guard_of(request).reserve(answer.prompt_tokens, prepared.max_new_tokens())
    observer = GenerationObserver(context.metrics, record_of(request), served.config.served_id)
    omitted = omitted_tools_headers(answer)
    if answer.stream:
        frames = stream_frames(
            prepared, served.engine, answering.encoder(answer), timeout, observer
        )
        return StreamingResponse(
            frames, media_type="text/event-stream", headers={**SSE_HEADERS, **omitted}
        )
    body = await folded_body(
        prepared,
        served.engine,
        answering.folder(answer),
        functools.partial(disconnected, request),
        timeout,
        observer,
    )
    response = json_response(body)
    response.headers.update(omitted)
    return response


async def admit_conversation(
    request: Request, context: ServerContext, conversation: Conversation, stream: bool
) -> tuple[ServedModel, PreparedGeneration]:
    """What every conversation route does after translating its body: admit its sequences,
    then decide everything before the first byte (shared by chat, Messages and Responses)."""
    served = await admit_generation(request, context, conversation.model, sequences=conversation.n)
    prepared = await prepare(
        conversation, served, context.config, request.state.request_id, stream=stream
    )
    return served, prepared


def record_of(request: Request) -> RequestRecord:
    """The access-log record of this request (a detached one if the middleware is absent)."""
    record = getattr(request.state, "record", None)
    if isinstance(record, RequestRecord):
        return record
    return RequestRecord(
        request_id=str(getattr(request.state, "request_id", "-")),
        method=request.method,
        path=request.url.path,
    )


def model_or_default(model: str | None, context: ServerContext) -> str:
    if model:
        return model
    default = context.registry.default_id()
    if default is None:
        raise InvalidRequestError(
            "`model` is required when several models are served.", param="model"
        )
    return default
