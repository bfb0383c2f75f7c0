"""POST /v1/completions request body (legacy text completions)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, field_validator

from tera_serve.protocol.common import SamplingFields


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[StrictInt] | list[list[StrictInt]]  # `true` is no token id
    echo: bool = False
    logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    suffix: str | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(
        cls, value: str | list[str] | list[int] | list[list[int]]
    ) -> str | list[str] | list[int] | list[list[int]]:
        if isinstance(value, list) and not value:
            raise ValueError("prompt must not be an empty list")
        return value

    def requested_max_tokens(self) -> int | None:
        return self.max_tokens
