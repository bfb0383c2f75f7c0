"""Token counts of one response, summed over its choices as their steps arrive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tera_serve.core.events import Step, Usage


def cached_prompt_tokens(by_choice: Mapping[int, int], choices_per_prompt: int) -> int:
    """Prompt tokens served from the prefix cache, counted once per prompt as the prompt is.

    The n choices of one prompt are separate engine requests; the fewest hits among them is
    what the cache held before this request (a sibling's own prefill does not count).
    """
    per_prompt: dict[int, int] = {}
    for index, cached in by_choice.items():
        group = index // max(choices_per_prompt, 1)
        per_prompt[group] = min(per_prompt.get(group, cached), cached)
    return sum(per_prompt.values())


@dataclass
class UsageCounter:
    prompt_tokens: int
    choices_per_prompt: int = 1
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_by_choice: dict[int, int] = field(default_factory=dict)

    def add(self, step: Step) -> None:
        self.completion_tokens += step.new_tokens
        if step.cached_tokens is not None:
            self.cached_by_choice.setdefault(step.choice, step.cached_tokens)
        if step.end is not None:
            self.reasoning_tokens += step.end.reasoning_tokens

    @property
    def cached_tokens(self) -> int:
        return cached_prompt_tokens(self.cached_by_choice, self.choices_per_prompt)

    def snapshot(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            reasoning_tokens=self.reasoning_tokens,
            cached_tokens=self.cached_tokens,
        )
