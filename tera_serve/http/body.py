"""Request bodies: read under the size limit, then parse, bound, validate and translate
off the event loop.

orjson, the depth walk and pydantic each cost time in proportion to the body (a 7 MB list
of 3.5 M token ids is a second of work); they run in the CPU pool (bounded_work.py), so
the loop keeps routing bytes for every other request meanwhile. pydantic holds the GIL
for as long as it validates, pool or not, so the lists it would walk are counted first
(body_bounds.check_list_lengths); translating the model to a Conversation is Python
work that grows with the turns too, and runs in the pool after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from tera_serve.bounded_work import offload
from tera_serve.config import ServerConfig
from tera_serve.errors import ClientDisconnectedError, PayloadTooLargeError
from tera_serve.http.context import ServerContext
from tera_serve.http.validation import parse_json_body, validate_body
from tera_serve.service.body_bounds import check_list_lengths

ModelT = TypeVar("ModelT", bound=BaseModel)
TranslatedT = TypeVar("TranslatedT")


async def read_raw_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"The request body is larger than {limit} bytes.")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientDisconnectedError("The client left while sending the body.") from None
    return b"".join(chunks)


def _parse(model: type[ModelT], raw: bytes, server: ServerConfig) -> ModelT:
    body = parse_json_body(raw, server.max_json_depth)
    try:
        check_list_lengths(body, server)
        return validate_body(model, body)
    finally:
        # A refusal's traceback keeps this frame (and the parsed body) alive up to the
        # loop: free the values here, in the worker.
        body.clear()


async def read_model(
    model: type[ModelT], request: Request, context: ServerContext, *, inline_below: int = 0
) -> ModelT:
    """The body as `model`, or a 400 / 413 (a busy CPU pool: 503). A body shorter than
    `inline_below` bytes is parsed on the loop, where that costs less than the pool hop."""
    raw = await read_raw_body(request, context.config.max_body_bytes)
    if len(raw) < inline_below:
        return _parse(model, raw, context.config)
    return await offload(_parse, model, raw, context.config, what="reading the body")


async def translated(translate: Callable[..., TranslatedT], *args: Any) -> TranslatedT:
    """A read body as a Conversation, or what holds one (a protocol adapter's
    `translate(*args)`), in the CPU pool; read_model has bounded its turns and parts."""
    return await offload(translate, *args, what="reading the request")
