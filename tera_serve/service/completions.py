"""POST /v1/completions: prepare, and the text_completion output shapes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tera_serve.config import ServerConfig
from tera_serve.engine.base import EngineRequest, PositionLogprobs
from tera_serve.errors import InvalidRequestError
from tera_serve.parsing.base import PlainParser
from tera_serve.protocol.completions import CompletionRequest
from tera_serve.service.chat_output import UsageCounter, sse_frame
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.limits import check_common_bounds
from tera_serve.service.prepared import PreparedGeneration, new_request_id
from tera_serve.service.prompt_scoring import EchoTracker, end_offset, legacy_logprobs
from tera_serve.service.registry import ServedModel
from tera_serve.service.sampling import build_sampling_spec, fit_max_tokens, parse_logit_bias
from tera_serve.service.scoring_checks import check_completion_request, echo_prompts


def _prompt_token_lists(request: CompletionRequest, served: ServedModel) -> list[tuple[int, ...]]:
    prompt = request.prompt
    vocab = len(served.tokenizer)
    if isinstance(prompt, str):
        texts: list[str] = [prompt]
    elif all(isinstance(p, int) for p in prompt):
        ids = tuple(int(p) for p in prompt)  # type: ignore[arg-type]
        _check_ids(ids, vocab)
        return [ids]
    elif all(isinstance(p, list) for p in prompt):
        lists = [tuple(int(t) for t in p) for p in prompt]  # type: ignore[union-attr]
        for ids in lists:
            _check_ids(ids, vocab)
        return lists
    else:
        texts = [str(p) for p in prompt]
    return [tuple(served.tokenizer.encode(text)) for text in texts]


def _check_ids(ids: tuple[int, ...], vocab: int) -> None:
    if not ids:
        raise InvalidRequestError("A token-id prompt must not be empty.", param="prompt")
    if any(not 0 <= t < vocab for t in ids):
        raise InvalidRequestError(
            "The prompt has token ids outside the vocabulary.", param="prompt"
        )


async def prepare_completion(
    request: CompletionRequest, served: ServedModel, server: ServerConfig
) -> PreparedGeneration:
    check_common_bounds(request, server)
    check_completion_request(request, server)
    total_chars = len(request.prompt) if isinstance(request.prompt, str) else 0
    if total_chars > server.max_prompt_chars:
        raise InvalidRequestError("The prompt is too long.", param="prompt")
    prompts = await asyncio.to_thread(_prompt_token_lists, request, served)
    echo = await asyncio.to_thread(echo_prompts, request, prompts, served) if request.echo else None
    if len(prompts) * request.n > server.max_n * 4:
        raise InvalidRequestError("Too many prompts times `n` in one request.", param="prompt")
    bias = parse_logit_bias(request.logit_bias, len(served.tokenizer))
    request_id = new_request_id()
    engine_requests: list[EngineRequest] = []
    for prompt_ids in prompts:
        max_tokens = fit_max_tokens(
            request.max_tokens if request.max_tokens is not None else 16,
            prompt_tokens=len(prompt_ids),
            context_length=served.context_length,
            max_output_length=served.config.max_output_length,
            prompt_param="prompt",
        )
        for i in range(request.n):
            engine_requests.append(
                EngineRequest(
                    request_id=f"{request_id}-{len(engine_requests)}",
                    prompt_token_ids=prompt_ids,
                    sampling=build_sampling_spec(
                        request,
                        max_tokens=max_tokens,
                        seed_offset=i,
                        logprobs=request.logprobs,
                        prompt_logprobs=request.engine_prompt_logprobs(),
                        logit_bias=bias,
                        defaults=served.sampling_defaults,
                    ),
                )
            )
    return PreparedGeneration(
        request_id=request_id,
        response_id=f"cmpl-{request_id}",
        model_id=request.model,
        created=PreparedGeneration.now(),
        prompt_tokens=sum(len(p) for p in prompts),
        engine_requests=tuple(engine_requests),
        make_parser=PlainParser,
        stream=request.stream,
        include_usage=bool(request.stream_options and request.stream_options.include_usage),
        logprobs=request.logprobs is not None,
        reasoning_fields=(),
        choices_per_prompt=request.n,
        continuous_usage=bool(
            request.stream_options and request.stream_options.continuous_usage_stats
        ),
        prompt_logprobs=request.prompt_logprobs,
        echo=echo,
    )


class CompletionChunkEncoder:
    """text_completion chunks; the fixed part of each is serialized once per response."""

    def __init__(self, prepared: PreparedGeneration) -> None:
        self._prepared = prepared
        self._offsets = [0] * len(prepared.engine_requests)
        self._echo = EchoTracker(prepared.echo, prepared.choices_per_prompt)
        self._base = {
            "id": prepared.response_id,
            "object": "text_completion",
            "created": prepared.created,
            "model": prepared.model_id,
        }
        self._head = b"data: " + orjson.dumps(self._base)[:-1] + b',"choices":[{"index":'

    def frames(self, event: ChoiceEvent) -> list[bytes]:
        echoed, prompt_positions = self._echo.take(event.index, event.prompt_logprobs)
        text = echoed + event.delta.content
        positions: Sequence[PositionLogprobs | None] = (
            [*prompt_positions, *(event.logprobs or [])]
            if prompt_positions
            else event.logprobs or ()
        )
        if not text and event.finish_reason is None and not positions:
            return []
        logprobs = None
        if self._prepared.logprobs and positions:
            first = self._echo.prompt_of(event.index)
            logprobs = legacy_logprobs(
                positions, self._offsets[event.index], first.first_token if first else ""
            )
        # Token offsets advance by the tokens reported (text held back for a stop string
        # lags them), so a stream's offsets are the folded response's.
        after = end_offset(logprobs) if logprobs else None
        self._offsets[event.index] = (
            after if after is not None else self._offsets[event.index] + len(text)
        )
        # The bytes orjson gives for {**base, "choices": [{index, text, logprobs,
        # finish_reason}]}, without building that dict per token.
        return [
            b"".join(
                (
                    self._head,
                    b"%d" % event.index,
                    b',"text":',
                    orjson.dumps(text),
                    b',"logprobs":',
                    orjson.dumps(logprobs),
                    b',"finish_reason":',
                    orjson.dumps(event.finish_reason),
                    b"}]}\n\n",
                )
            )
        ]

    def usage_frame(self, usage: UsageCounter) -> bytes:
        return sse_frame({**self._base, "choices": [], "usage": usage.as_dict()})


@dataclass
class _TextState:
    text: str = ""
    logprobs: list[PositionLogprobs | None] = field(default_factory=list)
    finish_reason: str | None = None


class CompletionFolder:
    def __init__(self, prepared: PreparedGeneration) -> None:
        self._prepared = prepared
        self._choices = [_TextState() for _ in prepared.engine_requests]
        self.usage = UsageCounter.of(prepared)
        self._echo = EchoTracker(prepared.echo, prepared.choices_per_prompt)

    def add(self, event: ChoiceEvent) -> None:
        self.usage.add(event)
        state = self._choices[event.index]
        echoed, prompt_positions = self._echo.take(event.index, event.prompt_logprobs)
        state.text += echoed + event.delta.content
        state.logprobs.extend(prompt_positions)
        if event.logprobs:
            state.logprobs.extend(event.logprobs)
        if event.finish_reason is not None:
            state.finish_reason = event.finish_reason

    def response(self) -> dict[str, Any]:
        usage = self.usage.as_dict()
        usage.pop("completion_tokens_details", None)
        return {
            "id": self._prepared.response_id,
            "object": "text_completion",
            "created": self._prepared.created,
            "model": self._prepared.model_id,
            "choices": [
                {
                    "index": i,
                    "text": s.text,
                    "logprobs": self._logprobs(i, s) if self._prepared.logprobs else None,
                    "finish_reason": s.finish_reason,
                }
                for i, s in enumerate(self._choices)
            ],
            "usage": usage,
        }

    def _logprobs(self, index: int, state: _TextState) -> dict[str, Any]:
        first = self._echo.prompt_of(index)
        return legacy_logprobs(state.logprobs, 0, first.first_token if first else "")
