"""Token counts of one response, summed over its choices as events arrive."""

from __future__ import annotations

from dataclasses import dataclass

from tera_serve.service.generation import ChoiceEvent


@dataclass
class UsageCounter:
    prompt_tokens: int
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    def add(self, event: ChoiceEvent) -> None:
        self.completion_tokens += event.new_tokens
        if event.finish_reason is not None:
            self.reasoning_tokens += event.reasoning_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
