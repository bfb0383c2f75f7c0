"""A pooling request's inputs as token ids: counted, tokenized, checked against the model's
window and the request bounds, before any engine work (every refusal a 400 naming where).

Runs in the CPU pool (tokenizing 2,048 inputs is real work); nothing here touches the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tera_serve.engine.pooling import PairInput
from tera_serve.errors import InvalidRequestError

TokenList = tuple[int, ...]


@dataclass(frozen=True)
class InputBounds:
    window: int
    """The model's context (max_model_len): the most tokens one input may have."""
    max_inputs: int
    max_tokens: int
    vocab_size: int
    truncate: int | None = None
    """Keep this many tokens of each input (-1: the window); None: refuse longer inputs."""

    def keep(self, param: str) -> int | None:
        """The tokens kept per input when truncating (None: not truncating)."""
        if self.truncate is None:
            return None
        if self.truncate == -1:
            return self.window
        if self.truncate < 1 or self.truncate > self.window:
            raise InvalidRequestError(
                f"`truncate_prompt_tokens` ({self.truncate}) must be -1 or between 1 and the "
                f"model's window of {self.window} tokens.",
                param="truncate_prompt_tokens",
            )
        return self.truncate


def check_count(count: int, bounds: InputBounds, param: str) -> None:
    if count == 0:
        raise InvalidRequestError(f"`{param}` must not be empty.", param=param)
    if count > bounds.max_inputs:
        raise InvalidRequestError(
            f"`{param}` has {count} items; the limit is {bounds.max_inputs} per request.",
            param=param,
            code="too_many_inputs",
        )


def _where(param: str, index: int | None) -> str:
    return param if index is None else f"{param}[{index}]"


def check_length(ids: Sequence[int], bounds: InputBounds, param: str, index: int | None) -> None:
    if len(ids) > bounds.window:
        where = _where(param, index)
        raise InvalidRequestError(
            f"`{where}` has {len(ids)} tokens; the model's window is {bounds.window}. Shorten "
            "it, or set `truncate_prompt_tokens` to keep the first tokens.",
            param=where,
            code="context_length_exceeded",
        )


def check_total(lists: Sequence[Sequence[int]], bounds: InputBounds, param: str) -> int:
    total = sum(len(ids) for ids in lists)
    if total > bounds.max_tokens:
        raise InvalidRequestError(
            f"The request's inputs have {total} tokens together; the limit is "
            f"{bounds.max_tokens} per request.",
            param=param,
            code="too_many_tokens",
        )
    return total


def _check_text(text: str, param: str, index: int | None) -> None:
    if text == "":
        where = _where(param, index)
        raise InvalidRequestError(f"`{where}` must not be an empty string.", param=where)


def _check_ids(ids: Sequence[int], bounds: InputBounds, param: str, index: int | None) -> None:
    where = _where(param, index)
    if not ids:
        raise InvalidRequestError(f"`{where}` must not be an empty array of tokens.", param=where)
    for token in ids:
        if not 0 <= token < bounds.vocab_size:
            raise InvalidRequestError(
                f"`{where}` holds the token id {token}, outside the model's vocabulary "
                f"(0 to {bounds.vocab_size - 1}).",
                param=where,
                code="invalid_token_id",
            )


def _encode(tokenizer: Any, texts: Sequence[str], keep: int | None) -> list[TokenList]:
    if keep is None:
        encoded = tokenizer(list(texts), add_special_tokens=True)["input_ids"]
    else:
        # Right truncation that keeps the model's special tokens, as sentence-transformers.
        encoded = tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=keep)[
            "input_ids"
        ]
    return [tuple(ids) for ids in encoded]


def tokenize_inputs(
    items: Sequence[str | Sequence[int]],
    tokenizer: Any,
    bounds: InputBounds,
    param: str,
    *,
    single: bool = False,
) -> list[TokenList]:
    """Each input's token ids: texts tokenized with the model's special tokens; token
    arrays taken as they are (checked against the vocabulary). `single`: the request sent
    one input, not an array of them (refusals then name no index)."""
    check_count(len(items), bounds, param)
    keep = bounds.keep(param)
    texts: list[tuple[int, str]] = []
    lists: list[TokenList | None] = []
    for index, item in enumerate(items):
        where = None if single else index
        if isinstance(item, str):
            _check_text(item, param, where)
            texts.append((index, item))
            lists.append(None)
        else:
            _check_ids(item, bounds, param, where)
            lists.append(tuple(item[:keep] if keep is not None else item))
    if texts:
        for (index, _), ids in zip(
            texts, _encode(tokenizer, [t for _, t in texts], keep), strict=True
        ):
            lists[index] = ids
    result = [ids for ids in lists if ids is not None]
    for index, ids in enumerate(result):
        check_length(ids, bounds, param, None if single else index)
    check_total(result, bounds, param)
    return result


def tokenize_pairs(
    first: Sequence[str], second: Sequence[str], tokenizer: Any, bounds: InputBounds, param: str
) -> list[PairInput]:
    """Cross-encoder inputs: each pair as one sequence ([CLS] a [SEP] b [SEP] for BERT), with
    where the second text starts (its token types)."""
    check_count(len(second), bounds, param)
    keep = bounds.keep(param)
    for index, text in enumerate(second):
        _check_text(text, param, index)
    kwargs: dict[str, Any] = {"add_special_tokens": True, "return_token_type_ids": True}
    if keep is not None:
        kwargs.update(truncation="longest_first", max_length=keep)
    encoded = tokenizer(list(first), list(second), **kwargs)
    pairs: list[PairInput] = []
    types = encoded.get("token_type_ids")
    for index, ids in enumerate(encoded["input_ids"]):
        check_length(ids, bounds, param, index)
        start = None
        if types is not None and 1 in types[index]:
            start = types[index].index(1)
        pairs.append(PairInput(token_ids=tuple(ids), second_start=start))
    check_total([p.token_ids for p in pairs], bounds, param)
    return pairs
