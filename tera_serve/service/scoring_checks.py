"""Checks and inputs for prompt scoring (echo, prompt logprobs), decided before generation."""

from __future__ import annotations

from tera_serve.config import ServerConfig
from tera_serve.core.conversation import PromptBatch
from tera_serve.errors import InvalidRequestError
from tera_serve.service.prompt_scoring import EchoPrompt
from tera_serve.service.registry import ServedModel


def check_prompt_logprobs(value: int | None, stream: bool, server: ServerConfig) -> None:
    if value is None:
        return
    if value > server.max_top_logprobs:
        raise InvalidRequestError(
            f"`prompt_logprobs` must be at most {server.max_top_logprobs}.",
            param="prompt_logprobs",
        )
    if stream:
        # As vllm serve: a stream has no place for them (echo streams its own).
        raise InvalidRequestError(
            "`prompt_logprobs` are not available when `stream` is true.",
            param="prompt_logprobs",
        )


def check_batch_scoring(batch: PromptBatch, stream: bool, server: ServerConfig) -> None:
    check_prompt_logprobs(batch.prompt_logprobs, stream, server)
    if batch.max_tokens == 0 and not batch.echo:
        raise InvalidRequestError(
            "`max_tokens` may be 0 only with `echo: true` (to score the prompt).",
            param="max_tokens",
        )
    if batch.logprobs is not None and batch.logprobs > server.max_top_logprobs:
        raise InvalidRequestError(
            f"`logprobs` must be at most {server.max_top_logprobs}.", param="logprobs"
        )


def echo_prompts(
    batch: PromptBatch, prompts: list[tuple[int, ...]], served: ServedModel
) -> tuple[EchoPrompt, ...]:
    """Per prompt: its text (as sent, or decoded from token ids) and its first token's text.

    Tokenizer work: run off the event loop.
    """
    tokenizer = served.tokenizer
    return tuple(
        EchoPrompt(
            text=sent
            if isinstance(sent, str)
            else tokenizer.decode(list(ids), skip_special_tokens=False),
            first_token=tokenizer.decode([ids[0]], skip_special_tokens=False) if ids else "",
        )
        for sent, ids in zip(batch.prompts, prompts, strict=True)
    )
