"""Token counts of one response, summed over its choices as events arrive."""

from __future__ import annotations

from dataclasses import dataclass, field

from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.prompt_scoring import cached_prompt_tokens


@dataclass
class UsageCounter:
    prompt_tokens: int
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    choices_per_prompt: int = 1
    cached_by_choice: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, prepared: PreparedGeneration) -> UsageCounter:
        return cls(
            prompt_tokens=prepared.prompt_tokens, choices_per_prompt=prepared.choices_per_prompt
        )

    def add(self, event: ChoiceEvent) -> None:
        self.completion_tokens += event.new_tokens
        if event.cached_tokens is not None:
            self.cached_by_choice.setdefault(event.index, event.cached_tokens)
        if event.finish_reason is not None:
            self.reasoning_tokens += event.reasoning_tokens

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens the engine's prefix cache served (counted once per prompt)."""
        return cached_prompt_tokens(self.cached_by_choice, self.choices_per_prompt)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
