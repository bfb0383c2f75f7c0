"""Legacy completions body → PromptBatch."""

from __future__ import annotations

from tera_serve.adapters.chat import sampling_of
from tera_serve.core.conversation import PromptBatch
from tera_serve.protocol.completions import CompletionRequest

LEGACY_DEFAULT_MAX_TOKENS = 16
"""OpenAI's documented default for /v1/completions when `max_tokens` is left out."""


def prompt_batch(request: CompletionRequest) -> PromptBatch:
    prompt = request.prompt
    prompts: tuple[str | tuple[int, ...], ...]
    if isinstance(prompt, str):
        prompts = (prompt,)
    elif all(isinstance(p, int) for p in prompt):
        prompts = (tuple(int(p) for p in prompt),)  # type: ignore[arg-type]
    else:
        prompts = tuple(p if isinstance(p, str) else tuple(int(t) for t in p) for p in prompt)  # type: ignore[union-attr]
    return PromptBatch(
        model=request.model,
        prompts=prompts,
        sampling=sampling_of(request),
        max_tokens=request.max_tokens
        if request.max_tokens is not None
        else LEGACY_DEFAULT_MAX_TOKENS,
        n=request.n,
        logprobs=request.logprobs,
        echo=request.echo,
        prompt_logprobs=request.prompt_logprobs,
    )
