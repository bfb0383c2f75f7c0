"""Wire models of the pooling routes: OpenAI's /v1/embeddings, and /v1/rerank (the
Jina/Cohere shape) and /v1/score (`text_1` / `text_2`) as vLLM serves them.

Types are strict: a number where text belongs (or text where token ids belong) is a 400,
never coerced; unknown fields are accepted and ignored, as OpenAI clients send extras.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

TokenIds = list[StrictInt]
EmbeddingInput = StrictStr | list[StrictStr] | TokenIds | list[TokenIds]
"""A string, an array of strings, an array of token ids, or an array of arrays of them."""

_SHAPES = "a string, an array of strings, an array of token ids, or an array of token arrays"


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_shape(value: Any) -> Any:
    """One message for every wrong shape (pydantic would list each union member's)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value) or all(_is_token(i) for i in value):
            return value
        if all(isinstance(item, list) and all(_is_token(i) for i in item) for item in value):
            return value
        for index, item in enumerate(value):
            if not isinstance(item, str | list) and not _is_token(item):
                raise ValueError(f"item {index} is a {type(item).__name__}; `input` is {_SHAPES}")
    raise ValueError(f"`input` must be {_SHAPES} (one kind, not mixed or nested deeper)")


TruncateField = Annotated[int, Field(ge=-1)] | None
"""vLLM's `truncate_prompt_tokens`: keep this many tokens of each input (-1: the model's
window); unset: an input longer than the window is a 400 naming its index."""


class PoolingFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: Annotated[str, Field(min_length=1)]
    truncate_prompt_tokens: TruncateField = None
    user: str | None = None


class EmbeddingRequest(PoolingFields):
    input: Annotated[EmbeddingInput, BeforeValidator(_one_shape)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1)] | None = None


class RerankRequest(PoolingFields):
    query: StrictStr
    documents: list[StrictStr]
    top_n: Annotated[int, Field(ge=0)] | None = None
    """How many results to return, best first (unset or 0: all)."""
    return_documents: bool = True


class ScoreRequest(PoolingFields):
    text_1: StrictStr | list[StrictStr]
    text_2: StrictStr | list[StrictStr]
    """Scored pairwise with text_1 (one text_1 is paired with every text_2)."""
