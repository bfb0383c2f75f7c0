"""Scoring the prompt: completions `echo`, the legacy logprobs shape, vLLM's `prompt_logprobs`,
and the prefix-cache hits that usage reports.

An evaluation harness (lm-eval's `local-completions`) scores an answer by sending the context
plus the answer with `echo: true, logprobs: 1` and reading the prompt's `token_logprobs`, so
the prompt positions come first, in the same shape as the generated ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tera_serve.config import ServerConfig
from tera_serve.core.conversation import PromptBatch
from tera_serve.core.logprobs import PositionLogprobs
from tera_serve.errors import InvalidRequestError
from tera_serve.service.registry import ServedModel


@dataclass(frozen=True)
class EchoPrompt:
    """What each choice of one prompt starts with under `echo`."""

    text: str
    first_token: str
    """The first prompt token's text: it has no logprob (nothing comes before it)."""


def legacy_logprobs(
    positions: Sequence[PositionLogprobs | None], offset: int, first_token: str = ""
) -> dict[str, Any]:
    """The Completions `logprobs` object; a None position (the prompt's first) has nulls."""
    tokens: list[str] = []
    token_logprobs: list[float | None] = []
    top: list[dict[str, float] | None] = []
    offsets: list[int] = []
    for p in positions:
        offsets.append(offset)
        if p is None:
            tokens.append(first_token)
            token_logprobs.append(None)
            top.append(None)
            offset += len(first_token)
            continue
        tokens.append(p.chosen.token)
        token_logprobs.append(p.chosen.logprob)
        top.append({t.token: t.logprob for t in p.top})
        offset += len(p.chosen.token)
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top,
        "text_offset": offsets,
    }


def end_offset(logprobs: Mapping[str, Any]) -> int | None:
    """The text offset just past the last token of a `legacy_logprobs` object."""
    if not logprobs["tokens"]:
        return None
    return int(logprobs["text_offset"][-1]) + len(logprobs["tokens"][-1])


def vllm_prompt_logprobs(positions: Sequence[PositionLogprobs | None]) -> list[Any]:
    """vLLM's `prompt_logprobs` shape: per position null or {token id: {logprob, rank,
    decoded_token}}, the prompt's own token first, then the top alternatives."""
    out: list[Any] = []
    for p in positions:
        if p is None:
            out.append(None)
            continue
        entry: dict[str, Any] = {}
        for t in (p.chosen, *p.top):
            key = str(t.token_id)
            if key not in entry:
                entry[key] = {"logprob": t.logprob, "rank": t.rank, "decoded_token": t.token}
        out.append(entry)
    return out


class EchoTracker:
    """Hands each choice its echoed prompt once, on the choice's first event."""

    def __init__(self, echo: tuple[EchoPrompt, ...] | None, choices_per_prompt: int) -> None:
        self._echo = echo
        self._n = max(choices_per_prompt, 1)
        self._done: set[int] = set()

    def prompt_of(self, index: int) -> EchoPrompt | None:
        return None if self._echo is None else self._echo[index // self._n]

    def take(
        self, index: int, prompt_logprobs: list[PositionLogprobs | None] | None
    ) -> tuple[str, list[PositionLogprobs | None]]:
        """(text to prepend, prompt positions to prepend) the first time; ("", []) after."""
        echo = self.prompt_of(index)
        if echo is None or index in self._done:
            return "", []
        self._done.add(index)
        return echo.text, list(prompt_logprobs or [])


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
