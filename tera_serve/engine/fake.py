"""A scripted engine for protocol and parser tests: replays given token ids.

It never replaces the real engine in an end-to-end test. It behaves like one where the
protocol can see it: deltas per step, `length` at max_tokens, aborts that free the slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from tera_serve.engine.base import EngineDelta, EngineInfo, EngineRequest

Script = Callable[[EngineRequest], Sequence[int]]


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
    ) -> None:
        self._tokenizer = tokenizer
        self._script = script
        self._delay = step_delay_s
        self._eos = eos_token_id
        self._running: set[str] = set()
        self._healthy = True
        self.requests: list[EngineRequest] = []
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
        self.requests.append(request)
        self._running.add(request.request_id)
        tokens = list(self._script(request))
        limit = request.sampling.max_tokens
        emitted: list[int] = []
        previous_text = ""
        try:
            for position, token in enumerate(tokens):
                if self._delay:
                    await asyncio.sleep(self._delay)
                else:
                    await asyncio.sleep(0)
                is_eos = token == self._eos and not request.sampling.ignore_eos
                emitted.append(token)
                text = "" if is_eos else self._tokenizer.decode(emitted, skip_special_tokens=False)
                delta_text = text[len(previous_text) :] if not is_eos else ""
                previous_text = text or previous_text
                last = is_eos or len(emitted) >= limit or position == len(tokens) - 1
                finish = None
                if last:
                    finish = "stop" if (is_eos or len(emitted) < limit) else "length"
                yield EngineDelta(token_ids=[token], text=delta_text, finish_reason=finish)
                if last:
                    return
            yield EngineDelta(token_ids=[], text="", finish_reason="stop")
        finally:
            self._running.discard(request.request_id)

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
