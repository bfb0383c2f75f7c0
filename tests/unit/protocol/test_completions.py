"""The text completions body (tera_serve/protocol/completions.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tera_serve.protocol.completions import CompletionRequest


def completion(**fields: Any) -> CompletionRequest:
    return CompletionRequest.model_validate({"model": "m", "prompt": "Once", **fields})


@pytest.mark.parametrize("prompt", ["text", ["a", "b"], [1, 2, 3], [[1, 2], [3]]])
def test_every_prompt_shape_is_taken_as_sent(prompt: Any) -> None:
    assert completion(prompt=prompt).prompt == prompt


@pytest.mark.parametrize("prompt", [[], [1, True], [[1], ["a"]], [1.5], None])
def test_other_prompts_are_refused(prompt: Any) -> None:
    """`true` is no token id (StrictInt), an empty list no prompt."""
    with pytest.raises(ValidationError) as failure:
        completion(prompt=prompt)
    assert failure.value.errors()[0]["loc"][0] == "prompt"


def test_max_tokens_may_be_zero_to_score_the_prompt() -> None:
    assert completion(max_tokens=0, echo=True).requested_max_tokens() == 0
    with pytest.raises(ValidationError):
        completion(max_tokens=-1)


@pytest.mark.parametrize(("logprobs", "ok"), [(0, True), (20, True), (21, False), (-1, False)])
def test_legacy_logprobs_are_a_count_up_to_20(logprobs: int, ok: bool) -> None:
    if ok:
        assert completion(logprobs=logprobs).logprobs == logprobs
    else:
        with pytest.raises(ValidationError):
            completion(logprobs=logprobs)


def test_suffix_is_refused_unless_empty() -> None:
    with pytest.raises(ValidationError, match="fill-in-the-middle"):
        completion(suffix="end")
    assert completion(suffix="").suffix == ""


def test_the_engine_computes_prompt_logprobs_to_echo_them() -> None:
    assert completion(echo=True, logprobs=2).engine_prompt_logprobs() == 2
    assert completion(logprobs=2).engine_prompt_logprobs() is None  # no echo, no prompt
    assert completion(echo=True, logprobs=2, prompt_logprobs=4).engine_prompt_logprobs() == 4
    assert completion(echo=True).engine_prompt_logprobs() is None


def test_the_shared_sampling_fields_and_their_extras() -> None:
    request = completion(
        stop="\n", best_of=2, stream=True, stream_options={"continuous_usage_stats": True}
    )
    assert request.stop_list() == ["\n"]
    assert request.stream_options is not None and request.stream_options.continuous_usage_stats
    assert not request.stream_options.include_usage
    with pytest.raises(ValidationError):
        completion(prompt_logprobs=-1)
