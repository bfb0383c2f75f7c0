"""/tokenize and /detokenize bodies, in vLLM's shape (benchmark clients use them)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tera_serve.protocol.chat import ChatMessage

MAX_TOKEN_IDS = 131072
"""Longest token-id list /detokenize takes (past any context length)."""


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    add_special_tokens: bool = True
    add_generation_prompt: bool = True
    chat_template_kwargs: dict[str, Any] | None = None


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    tokens: Annotated[list[StrictInt], Field(max_length=MAX_TOKEN_IDS)]  # `true` is no id
