"""Token counts over a response's steps: output tokens summed, reasoning tokens from each
choice's end, and the prompt's cache hits counted once per prompt."""

from __future__ import annotations

from tera_serve.core.events import ChoiceEnd, Step, Usage
from tera_serve.core.usage import UsageCounter, cached_prompt_tokens


def test_counts_over_steps() -> None:
    counter = UsageCounter(prompt_tokens=10, choices_per_prompt=2)
    end = ChoiceEnd("stop", called_tools=False, stop_sequence=None, reasoning_tokens=3)
    for choice, cached in ((0, 4), (1, 6)):
        counter.add(Step(choice, (), new_tokens=2, cached_tokens=cached))
        counter.add(Step(choice, (), new_tokens=1, end=end))
    assert counter.snapshot() == Usage(
        prompt_tokens=10, completion_tokens=6, reasoning_tokens=6, cached_tokens=4
    )
    assert counter.snapshot().total_tokens == 16


def test_cache_hits_once_per_prompt() -> None:
    assert cached_prompt_tokens({0: 32, 1: 16, 2: 0, 3: 48}, 2) == 16
    assert cached_prompt_tokens({}, 1) == 0
