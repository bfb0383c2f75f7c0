"""POST /v1/completions: prepare, and the text_completion output shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tera_serve.bounded_work import offload
from tera_serve.config import ServerConfig
from tera_serve.engine.base import EngineRequest, PositionLogprobs
from tera_serve.errors import InvalidRequestError
from tera_serve.parsing.base import PlainParser
from tera_serve.protocol.completions import CompletionRequest
from tera_serve.service.chat_output import UsageCounter, sse_frame
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.limits import check_common_bounds
from tera_serve.service.prepared import PreparedGeneration, new_request_id
from tera_serve.service.registry import ServedModel
from tera_serve.service.request_bounds import check_completion_input
from tera_serve.service.sampling import build_sampling_spec, fit_max_tokens, parse_logit_bias


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
    total_chars = len(request.prompt) if isinstance(request.prompt, str) else 0
    if total_chars > server.max_prompt_chars:
        raise InvalidRequestError("The prompt is too long.", param="prompt")
    check_completion_input(request, server)  # before tokenizing anything
    prompts = await offload(_prompt_token_lists, request, served, what="tokenizing the prompts")
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
    )


def legacy_logprobs(positions: list[PositionLogprobs], offset: int) -> dict[str, Any]:
    tokens, token_logprobs, top, offsets = [], [], [], []
    for p in positions:
        offsets.append(offset)
        offset += len(p.chosen.token)
        tokens.append(p.chosen.token)
        token_logprobs.append(p.chosen.logprob)
        top.append({t.token: t.logprob for t in p.top})
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top,
        "text_offset": offsets,
    }


class CompletionChunkEncoder:
    """text_completion chunks; the fixed part of each is serialized once per response."""

    def __init__(self, prepared: PreparedGeneration) -> None:
        self._prepared = prepared
        self._offsets = [0] * len(prepared.engine_requests)
        self._base = {
            "id": prepared.response_id,
            "object": "text_completion",
            "created": prepared.created,
            "model": prepared.model_id,
        }
        self._head = b"data: " + orjson.dumps(self._base)[:-1] + b',"choices":[{"index":'

    def frames(self, event: ChoiceEvent) -> list[bytes]:
        if not event.delta.content and event.finish_reason is None and not event.logprobs:
            return []
        logprobs = None
        if self._prepared.logprobs and event.logprobs:
            logprobs = legacy_logprobs(event.logprobs, self._offsets[event.index])
        self._offsets[event.index] += len(event.delta.content)
        # The bytes orjson gives for {**base, "choices": [{index, text, logprobs,
        # finish_reason}]}, without building that dict per token.
        return [
            b"".join(
                (
                    self._head,
                    b"%d" % event.index,
                    b',"text":',
                    orjson.dumps(event.delta.content),
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
    logprobs: list[PositionLogprobs] = field(default_factory=list)
    finish_reason: str | None = None


class CompletionFolder:
    def __init__(self, prepared: PreparedGeneration) -> None:
        self._prepared = prepared
        self._choices = [_TextState() for _ in prepared.engine_requests]
        self.usage = UsageCounter(prompt_tokens=prepared.prompt_tokens)

    def add(self, event: ChoiceEvent) -> None:
        self.usage.add(event)
        state = self._choices[event.index]
        state.text += event.delta.content
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
                    "logprobs": legacy_logprobs(s.logprobs, 0) if self._prepared.logprobs else None,
                    "finish_reason": s.finish_reason,
                }
                for i, s in enumerate(self._choices)
            ],
            "usage": usage,
        }
