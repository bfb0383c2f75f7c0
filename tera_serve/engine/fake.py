"""A scripted engine for protocol and parser tests: replays given token ids.

It never replaces the real engine in an end-to-end test. It behaves like one where the
protocol can see it: deltas per step, `length` at max_tokens, aborts that free the slot.

By default each step re-decodes the whole output so far (exact text, as vLLM's incremental
detokenizer gives, but O(n²)). `per_token_text=True` is the benchmark mode: each token's
text is decoded once and cached, so the engine costs almost nothing per step and a
benchmark measures the frontend alone; `step_wait` replaces the per-stream delay with a
shared step clock (every stream gets its next token at the same moment, as in a batched
engine step) and `on_delta` lets it time each token.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from tera_serve.core.logprobs import PositionLogprobs, TokenLogprob
from tera_serve.engine.base import (
    EngineDelta,
    EngineInfo,
    EngineRequest,
)

Script = Callable[[EngineRequest], Sequence[int]]
CACHE_BLOCK = 16
"""The fake prefix cache's block size: hits are whole blocks, as in vLLM."""
DeltaHook = Callable[[str, EngineDelta], None]
"""Called with (request_id, delta) just before each delta is yielded (benchmark timing)."""


class _OutputText:
    """Each step's new text: the whole output re-decoded (exact, as vLLM's detokenizer), or,
    in benchmark mode, the last token's cached text (`per_token`)."""

    def __init__(self, tokenizer: Any, per_token: Callable[[int], str] | None) -> None:
        self._tokenizer = tokenizer
        self._per_token = per_token
        self._previous = ""

    def advance(self, emitted: list[int]) -> str:
        if self._per_token is not None:
            return self._per_token(emitted[-1])
        text: str = self._tokenizer.decode(emitted, skip_special_tokens=False)
        delta = text[len(self._previous) :]
        self._previous = text or self._previous
        return delta


class FakeEngine:
    """Emits `script(request)` one token per step, decoding text with `tokenizer`."""

    def __init__(
        self,
        tokenizer: Any,
        script: Script,
        *,
        max_model_len: int = 2048,
        hf_config: Any = None,
        step_delay_s: float = 0.0,
        eos_token_id: int | None = None,
        model_path: str = "fake",
        per_token_text: bool = False,
        on_delta: DeltaHook | None = None,
        keep_requests: bool = True,
        step_wait: Callable[[], Awaitable[None]] | None = None,
        prefix_caching: bool = False,
    ) -> None:
        self._tokenizer = tokenizer
        self._per_token_text = per_token_text
        self._token_texts: dict[int, str] = {}
        self._on_delta = on_delta
        self._keep_requests = keep_requests
        self._step_wait = step_wait
        self._script = script
        self.step_delay_s = step_delay_s
        """Seconds between steps (0: yield to the event loop only); may change any time."""
        self._eos = eos_token_id
        self._running: set[str] = set()
        self._healthy = True
        self._prefix_caching = prefix_caching
        """Report hits of a simulated prefix cache (off: every prompt is computed anew)."""
        self._seen_prompts: deque[tuple[int, ...]] = deque(maxlen=32)
        self.requests: list[EngineRequest] = []
        """Every request seen (unless `keep_requests` is off, for long benchmark runs)."""
        self.info = EngineInfo(
            model_path=model_path,
            max_model_len=max_model_len,
            dtype="float32",
            quantization=None,
            hf_config=hf_config,
        )

    async def generate(self, request: EngineRequest) -> AsyncIterator[EngineDelta]:
        if not self._healthy:
            from tera_serve.engine.base import EngineDeadError

            raise EngineDeadError("fake engine marked dead")
        if self._keep_requests:
            self.requests.append(request)
        self._running.add(request.request_id)
        tokens = list(self._script(request))
        limit = request.sampling.max_tokens
        emitted: list[int] = []
        text = _OutputText(self._tokenizer, self._token_text if self._per_token_text else None)
        prompt = request.prompt_token_ids
        first = True
        try:
            if limit == 0:  # score the prompt only
                await asyncio.sleep(0)
                delta = EngineDelta(token_ids=[], text="", finish_reason="length")
                self._fill_prompt_facts(request, delta)
                yield delta
                return
            for position, token in enumerate(tokens):
                await self._pause()
                is_eos = token == self._eos and not request.sampling.ignore_eos
                emitted.append(token)
                delta_text = "" if is_eos else text.advance(emitted)
                last = is_eos or len(emitted) >= limit or position == len(tokens) - 1
                finish = None
                if last:
                    finish = "stop" if (is_eos or len(emitted) < limit) else "length"
                delta = EngineDelta(token_ids=[token], text=delta_text, finish_reason=finish)
                if request.sampling.logprobs is not None:
                    delta.logprobs = [
                        self.logprob_at(len(prompt) + position, token, request.sampling.logprobs)
                    ]
                if first:
                    first = False
                    self._fill_prompt_facts(request, delta)
                if self._on_delta is not None:
                    self._on_delta(request.request_id, delta)
                yield delta
                if last:
                    return
            delta = EngineDelta(token_ids=[], text="", finish_reason="stop")
            if first:
                self._fill_prompt_facts(request, delta)
            yield delta
        finally:
            self._running.discard(request.request_id)

    async def _pause(self) -> None:
        """One engine step's wait: the shared step clock, the delay, or a yield."""
        if self._step_wait is not None:
            await self._step_wait()
        elif self.step_delay_s:
            await asyncio.sleep(self.step_delay_s)
        else:
            await asyncio.sleep(0)

    def logprob_at(self, position: int, token: int, top_k: int) -> PositionLogprobs:
        """A made-up but deterministic logprob of `token` at `position` of the sequence, so a
        prompt token scored by echo and the same token generated get the same number."""
        logprob = -0.25 - ((token * 7 + position * 13) % 40) / 10

        def entry(token_id: int, value: float, rank: int) -> TokenLogprob:
            text = self._token_text(token_id)
            return TokenLogprob(text, value, tuple(text.encode()), token_id=token_id, rank=rank)

        chosen = entry(token, logprob, 1)
        vocab = len(self._tokenizer)
        top = [chosen] + [entry((token + j) % vocab, logprob - j, j + 1) for j in range(1, top_k)]
        return PositionLogprobs(chosen=chosen, top=tuple(top[:top_k]))

    def _fill_prompt_facts(self, request: EngineRequest, delta: EngineDelta) -> None:
        prompt = request.prompt_token_ids
        k = request.sampling.prompt_logprobs
        if k is None:
            delta.cached_tokens = self._cache_hit(prompt) if self._prefix_caching else 0
        else:
            # As vLLM: prompt logprobs need every position computed, so no cache read.
            delta.cached_tokens = 0
            delta.prompt_logprobs = [None] + [
                self.logprob_at(i, t, k) for i, t in enumerate(prompt) if i > 0
            ]
        if self._prefix_caching:
            self._seen_prompts.append(prompt)

    def _cache_hit(self, prompt: tuple[int, ...]) -> int:
        """Whole blocks of the longest prefix shared with a recent prompt (never the whole
        prompt: its last token is always computed)."""
        best = 0
        for seen in self._seen_prompts:
            shared = 0
            for a, b in zip(seen, prompt, strict=False):
                if a != b:
                    break
                shared += 1
            best = max(best, shared)
        best = min(best, len(prompt) - 1)
        return best - best % CACHE_BLOCK

    def _token_text(self, token: int) -> str:
        text = self._token_texts.get(token)
        if text is None:
            text = self._tokenizer.decode([token], skip_special_tokens=False)
            self._token_texts[token] = text
        return text

    def validate(self, request: EngineRequest) -> None:
        """The fake accepts every request."""

    async def abort(self, request_id: str) -> None:
        self._running.discard(request_id)

    def is_healthy(self) -> bool:
        return self._healthy

    def kill(self) -> None:
        """Simulate an engine crash."""
        self._healthy = False

    def unfinished_requests(self) -> int:
        return len(self._running)

    async def close(self) -> None:
        self._running.clear()
