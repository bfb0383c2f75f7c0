"""Fields shared by the chat and text completion requests."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

StopField = str | list[str] | None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False
    continuous_usage_stats: bool = False


class SamplingFields(BaseModel):
    """Sampling parameters common to /v1/chat/completions and /v1/completions.

    Unknown fields are accepted and ignored, as OpenAI clients send extras freely.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    model: Annotated[str, Field(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: Annotated[int, Field(ge=1)] = 1
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    top_k: Annotated[int, Field(ge=-1)] | None = None
    min_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
    repetition_penalty: Annotated[float, Field(gt=0.0, le=2.0)] | None = None
    seed: int | None = None
    stop: StopField = None
    ignore_eos: bool = False
    logit_bias: dict[str, float] | None = None
    prompt_logprobs: Annotated[int, Field(ge=0)] | None = None
    """vLLM's extension: each prompt token's logprob plus this many alternatives."""
    user: str | None = None

    @field_validator("stop")
    @classmethod
    def _stop_not_empty(cls, value: StopField) -> StopField:
        if isinstance(value, str):
            value = [value]
        if value is not None and any(s == "" for s in value):
            raise ValueError("stop strings must not be empty")
        return value

    @field_validator("seed")
    @classmethod
    def _seed_range(cls, value: int | None) -> int | None:
        if value is not None and not (-(2**63) <= value < 2**63):
            raise ValueError("seed must fit in a signed 64-bit integer")
        return value

    def stop_list(self) -> list[str]:
        stop: Any = self.stop
        return list(stop) if stop else []
