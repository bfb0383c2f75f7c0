"""POST /v1/audio/speech: text to speech, under the same keys, limits and admission."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from tera_serve.errors import ServiceUnavailableError
from tera_serve.http.body import read_model
from tera_serve.http.openapi import json_body
from tera_serve.http.route_support import (
    SSE_HEADERS,
    check_accepting,
    context_of,
    guard_of,
    record_of,
)
from tera_serve.protocol.speech import SpeechRequest
from tera_serve.speech.encoders import CONTENT_TYPES
from tera_serve.speech.metrics import SpeechObserver
from tera_serve.speech.service import IGNORED_HEADER, prepare_speech, speech_body


def build_speech_router() -> APIRouter:
    router = APIRouter()

    audio = {
        content_type: {"schema": {"type": "string", "format": "binary"}}
        for content_type in CONTENT_TYPES.values()
    }
    audio["text/event-stream"] = {"schema": {"type": "string"}}

    @router.post(
        "/v1/audio/speech",
        openapi_extra=json_body(SpeechRequest),
        response_class=Response,
        responses={200: {"description": "The audio, streamed as it is made", "content": audio}},
    )
    async def audio_speech(request: Request) -> Response:
        context = context_of(request)
        check_accepting(context)
        body = await read_model(SpeechRequest, request, context)
        guard = guard_of(request)
        guard.authorize_model(body.model, context.config.models)
        served = context.speech.get(body.model)
        model = served.config.served_id
        record = record_of(request)
        record.model = model
        started = time.perf_counter()
        try:
            await guard.admit(model)
        except ServiceUnavailableError as exc:
            context.metrics.rate_limited.labels(model, exc.code or "over_capacity").inc()
            raise
        context.metrics.queue_time.labels(model).observe(time.perf_counter() - started)
        job = await prepare_speech(body, served)
        # Per-key token limits count a speech request's input characters as its tokens.
        guard.reserve(job.characters, 0)
        observer = SpeechObserver(context.speech.metrics, record, model, job.characters)
        headers = dict(SSE_HEADERS) if job.stream_format == "sse" else {}
        if job.ignored:
            headers[IGNORED_HEADER] = ",".join(job.ignored)
        return StreamingResponse(
            speech_body(job, observer, context.config.request_timeout_s),
            media_type=job.content_type,
            headers=headers,
        )

    return router
