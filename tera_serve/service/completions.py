"""Prepare a raw-prompt batch (legacy /v1/completions): one engine request per prompt × n.

Shares the chat path's request id (so engine ids match `X-Tera-Request-ID`), sampling,
logit-bias and context rules; only the prompt comes from the client instead of a template.
"""

from __future__ import annotations

from dataclasses import dataclass

from tera_serve.bounded_work import offload
from tera_serve.config import ServerConfig
from tera_serve.core.conversation import PromptBatch
from tera_serve.core.prepared import PreparedAnswer, new_request_id
from tera_serve.engine.base import EngineRequest
from tera_serve.errors import InvalidRequestError
from tera_serve.parsing.base import PlainParser
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.prompt_scoring import EchoPrompt, check_batch_scoring, echo_prompts
from tera_serve.service.registry import ServedModel
from tera_serve.service.request_bounds import check_common_bounds, check_token_prompts
from tera_serve.service.sampling import build_sampling_spec, fit_max_tokens, parse_logit_bias


def _check_ids(ids: tuple[int, ...], vocab: int) -> None:
    if not ids:
        raise InvalidRequestError("A token-id prompt must not be empty.", param="prompt")
    if any(not 0 <= t < vocab for t in ids):
        raise InvalidRequestError(
            "The prompt has token ids outside the vocabulary.", param="prompt"
        )


def _token_lists(batch: PromptBatch, served: ServedModel) -> list[tuple[int, ...]]:
    """Blocking: every prompt as token ids (text prompts tokenized, id prompts checked)."""
    vocab = len(served.tokenizer)
    lists: list[tuple[int, ...]] = []
    for prompt in batch.prompts:
        if isinstance(prompt, str):
            lists.append(tuple(served.tokenizer.encode(prompt)))
        else:
            _check_ids(prompt, vocab)
            lists.append(prompt)
    return lists


def check_batch_bounds(batch: PromptBatch, server: ServerConfig) -> None:
    """Everything decidable before any tokenization work."""
    check_common_bounds(batch.n, batch.sampling, server)
    if len(batch.prompts) * batch.n > server.max_sequences_per_request:
        raise InvalidRequestError(
            f"The request asks for {len(batch.prompts)} prompts × n={batch.n} sequences; "
            f"the limit is {server.max_sequences_per_request}.",
            param="prompt",
        )
    total_chars = sum(len(p) for p in batch.prompts if isinstance(p, str))
    if total_chars > server.max_prompt_chars:
        raise InvalidRequestError(
            f"The prompts have {total_chars} characters; the limit is {server.max_prompt_chars}.",
            param="prompt",
        )
    check_token_prompts(batch)


@dataclass(frozen=True)
class PreparedBatch:
    generation: PreparedGeneration
    echo: tuple[EchoPrompt, ...] | None
    """`echo`: per prompt, what each of its choices starts with."""


def _batch_requests(
    batch: PromptBatch, prompts: list[tuple[int, ...]], served: ServedModel, request_id: str
) -> tuple[EngineRequest, ...]:
    bias = parse_logit_bias(batch.sampling.logit_bias, len(served.tokenizer))
    engine_requests: list[EngineRequest] = []
    for prompt_ids in prompts:
        max_tokens = fit_max_tokens(
            batch.max_tokens,
            prompt_tokens=len(prompt_ids),
            context_length=served.context_length,
            max_output_length=served.max_output_length,
            prompt_param="prompt",
        )
        for i in range(batch.n):
            engine_requests.append(
                EngineRequest(
                    request_id=f"{request_id}-{len(engine_requests)}",
                    prompt_token_ids=prompt_ids,
                    sampling=build_sampling_spec(
                        batch.sampling,
                        max_tokens=max_tokens,
                        seed_offset=i,
                        logprobs=batch.logprobs,
                        prompt_logprobs=batch.engine_prompt_logprobs(),
                        logit_bias=bias,
                        defaults=served.sampling_defaults,
                    ),
                )
            )
    return tuple(engine_requests)


async def prepare_batch(
    batch: PromptBatch,
    served: ServedModel,
    server: ServerConfig,
    request_id: str | None = None,
    *,
    stream: bool = False,
) -> PreparedBatch:
    check_batch_bounds(batch, server)
    check_batch_scoring(batch, stream, server)
    prompts = await offload(_token_lists, batch, served, what="tokenizing the prompts")
    echo = (
        await offload(echo_prompts, batch, prompts, served, what="decoding the prompts")
        if batch.echo
        else None
    )
    request_id = request_id or new_request_id()
    engine_requests = _batch_requests(batch, prompts, served, request_id)
    answer = PreparedAnswer(
        request_id=request_id,
        model_id=batch.model,
        prompt_tokens=sum(len(p) for p in prompts),
        choice_prompt_tokens=tuple(len(r.prompt_token_ids) for r in engine_requests),
        stream=stream,
        choices_per_prompt=batch.n,
        logprobs=batch.logprobs is not None,
        prompt_logprobs=batch.prompt_logprobs,
    )
    return PreparedBatch(PreparedGeneration(answer, engine_requests, PlainParser), echo)
