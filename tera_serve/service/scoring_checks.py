"""Checks and inputs for prompt scoring (echo, prompt logprobs), decided before generation."""

from __future__ import annotations

from tera_serve.config import ServerConfig
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.common import SamplingFields
from tera_serve.protocol.completions import CompletionRequest
from tera_serve.service.prompt_scoring import EchoPrompt
from tera_serve.service.registry import ServedModel


def check_prompt_logprobs(request: SamplingFields, server: ServerConfig) -> None:
    value = request.prompt_logprobs
    if value is None:
        return
    if value > server.max_top_logprobs:
        raise InvalidRequestError(
            f"`prompt_logprobs` must be at most {server.max_top_logprobs}.",
            param="prompt_logprobs",
        )
    if request.stream:
        # As vllm serve: a stream has no place for them (echo streams its own).
        raise InvalidRequestError(
            "`prompt_logprobs` are not available when `stream` is true.",
            param="prompt_logprobs",
        )


def check_completion_request(request: CompletionRequest, server: ServerConfig) -> None:
    check_prompt_logprobs(request, server)
    if request.max_tokens == 0 and not request.echo:
        raise InvalidRequestError(
            "`max_tokens` may be 0 only with `echo: true` (to score the prompt).",
            param="max_tokens",
        )
    if request.logprobs is not None and request.logprobs > server.max_top_logprobs:
        raise InvalidRequestError(
            f"`logprobs` must be at most {server.max_top_logprobs}.", param="logprobs"
        )


def echo_prompts(
    request: CompletionRequest, prompts: list[tuple[int, ...]], served: ServedModel
) -> tuple[EchoPrompt, ...]:
    """Per prompt: its text (as sent, or decoded from token ids) and its first token's text.

    Tokenizer work: run off the event loop.
    """
    tokenizer = served.tokenizer
    if isinstance(request.prompt, str):
        texts = [request.prompt]
    elif all(isinstance(p, str) for p in request.prompt):
        texts = [str(p) for p in request.prompt]
    else:
        texts = [tokenizer.decode(list(ids), skip_special_tokens=False) for ids in prompts]
    return tuple(
        EchoPrompt(
            text=text,
            first_token=tokenizer.decode([ids[0]], skip_special_tokens=False) if ids else "",
        )
        for text, ids in zip(texts, prompts, strict=True)
    )
