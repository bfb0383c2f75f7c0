"""POST /v1/completions request body (legacy text completions)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, field_validator

from tera_serve.protocol.common import SamplingFields


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[StrictInt] | list[list[StrictInt]]  # `true` is no token id
    echo: bool = False
    logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    max_tokens: Annotated[int, Field(ge=0)] | None = None
    """0 only with `echo`: score the prompt, generate nothing."""
    suffix: str | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(
        cls, value: str | list[str] | list[int] | list[list[int]]
    ) -> str | list[str] | list[int] | list[list[int]]:
        if isinstance(value, list) and not value:
            raise ValueError("prompt must not be an empty list")
        return value

    @field_validator("suffix")
    @classmethod
    def _no_suffix(cls, value: str | None) -> str | None:
        # Fill-in-the-middle needs a model whose template has FIM tokens; none served has.
        if value:
            raise ValueError("`suffix` (fill-in-the-middle) is not supported by this server")
        return value

    def requested_max_tokens(self) -> int | None:
        return self.max_tokens

    def engine_prompt_logprobs(self) -> int | None:
        """Prompt logprobs the engine computes: asked for, or needed to echo `logprobs`."""
        if self.prompt_logprobs is not None:
            return self.prompt_logprobs
        return self.logprobs if self.echo else None
