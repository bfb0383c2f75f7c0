"""The vLLM adapter's conversions (tera_serve/engine/vllm_engine.py), without an engine:
sampling settings, guided-decoding settings, GPU pinning, logprobs and completion deltas.
The engine itself keeps the Engine contract in tests/e2e/test_engine_contract_e2e.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType

import pytest

from tera_serve.engine.base import SamplingSpec, StructuredConstraint


@pytest.fixture(scope="module")
def vllm_engine() -> Iterator[ModuleType]:
    from tera_serve.runtime_env import prepare_vllm_environment

    prepare_vllm_environment()
    from tera_serve.engine import vllm_engine

    yield vllm_engine


@dataclass
class Logprob:
    """vLLM's per-candidate logprob (only the fields the adapter reads)."""

    logprob: float
    rank: int | None
    decoded_token: str | None


@dataclass
class Completion:
    """vLLM's CompletionOutput (only the fields the adapter reads)."""

    token_ids: list[int]
    text: str
    finish_reason: str | None = None
    stop_reason: int | str | None = None
    logprobs: list[dict[int, Logprob]] | None = None


@dataclass
class Output:
    """vLLM's RequestOutput, for the prompt facts."""

    num_cached_tokens: int
    prompt_logprobs: list[dict[int, Logprob] | None] | None = None
    outputs: list[Completion] = field(default_factory=list)


def test_sampling_params_carry_every_setting(vllm_engine: ModuleType) -> None:
    spec = SamplingSpec(
        max_tokens=7,
        temperature=0.5,
        top_k=20,
        seed=3,
        stop=("END",),
        logit_bias={5: -100.0},
        logprobs=2,
        structured=StructuredConstraint(json_object=True),
    )
    params = vllm_engine.to_sampling_params(spec)
    assert (params.n, params.max_tokens, params.temperature, params.top_k) == (1, 7, 0.5, 20)
    assert (params.seed, params.stop, params.logit_bias, params.logprobs) == (
        3,
        ["END"],
        {5: -100.0},
        2,
    )
    assert params.structured_outputs.json_object is True
    assert params.output_kind.name == "DELTA"  # each output holds only the new tokens


def test_a_scoring_request_asks_vllm_for_one_token(vllm_engine: ModuleType) -> None:
    params = vllm_engine.to_sampling_params(SamplingSpec(max_tokens=0, prompt_logprobs=1))
    assert params.max_tokens == 1 and params.prompt_logprobs == 1
    assert params.stop == [] and params.structured_outputs is None


@pytest.mark.parametrize(
    ("constraint", "field_name", "value"),
    [
        (StructuredConstraint(json_schema={"type": "object"}), "json", '{"type": "object"}'),
        (StructuredConstraint(regex="a+"), "regex", "a+"),
        (StructuredConstraint(grammar="start: 'a'"), "grammar", "start: 'a'"),
        (StructuredConstraint(structural_tag="{}"), "structural_tag", "{}"),
    ],
)
def test_each_constraint_maps_to_its_field(
    vllm_engine: ModuleType, constraint: StructuredConstraint, field_name: str, value: str
) -> None:
    params = vllm_engine.to_sampling_params(SamplingSpec(max_tokens=1, structured=constraint))
    assert getattr(params.structured_outputs, field_name) == value


def test_compact_json_where_the_backend_has_it_and_the_user_wins(
    vllm_engine: ModuleType,
) -> None:
    config = vllm_engine.structured_outputs_config
    assert config(None, "xgrammar").disable_any_whitespace
    assert config(None, "guidance").disable_any_whitespace
    assert not config(None, "outlines").disable_any_whitespace
    given = config({"disable_any_whitespace": False}, "xgrammar")
    assert given.backend == "xgrammar" and not given.disable_any_whitespace
    assert config(given, "guidance") is given


def test_gpu_pinning_is_undone_after_the_start(
    vllm_engine: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with vllm_engine.visible_gpus((2, 3)):
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with vllm_engine.visible_gpus((1,)):
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    with vllm_engine.visible_gpus(None):
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"


def test_logprobs_keep_the_top_k_by_rank_and_the_sampled_token(vllm_engine: ModuleType) -> None:
    position = {
        9: Logprob(-3.0, 4, "z"),  # sampled, but outside the top 2
        1: Logprob(-0.1, 1, "a"),
        2: Logprob(-float("inf"), 2, None),
    }
    [lp] = vllm_engine._to_logprobs([position], [9], 2)
    assert (lp.chosen.token, lp.chosen.token_id, lp.chosen.rank) == ("z", 9, 4)
    assert [(t.token_id, t.rank) for t in lp.top] == [(1, 1), (2, 2)]
    assert lp.top[1].logprob == -9999.0 and lp.top[1].token == ""  # JSON-safe
    prompt = vllm_engine._to_prompt_logprobs([None, {5: Logprob(-1.0, 1, "b")}], (4, 5), 0)
    assert prompt[0] is None and prompt[1].chosen.token_id == 5 and prompt[1].top == ()


def test_completion_deltas(vllm_engine: ModuleType) -> None:
    delta = vllm_engine._completion_delta
    sampling = SamplingSpec(max_tokens=4)
    running = delta(Completion([1, 2], "ab", "stop"), False, sampling)
    assert (running.token_ids, running.text, running.finish_reason) == ([1, 2], "ab", None)
    last = delta(Completion([3], "c", "stop", stop_reason="END"), True, sampling)
    assert (last.finish_reason, last.stop_reason, last.logprobs) == ("stop", "END", None)
    # Scoring: the one token vLLM generates is never shown, and the end is `length`.
    scoring = SamplingSpec(max_tokens=0)
    assert delta(Completion([7], "x"), False, scoring) is None
    done = delta(Completion([7], "x", "stop"), True, scoring)
    assert (done.token_ids, done.text, done.finish_reason) == ([], "", "length")
    assert delta(Completion([7], "x", "abort"), True, scoring).finish_reason == "abort"


def test_prompt_facts_are_read_until_the_first_delta(vllm_engine: ModuleType) -> None:
    from tera_serve.engine.base import EngineDelta, EngineRequest

    request = EngineRequest("r", (4, 5), SamplingSpec(max_tokens=1, prompt_logprobs=0))
    facts = vllm_engine._PromptFacts(request)
    facts.note(Output(num_cached_tokens=0))
    facts.note(Output(num_cached_tokens=9, prompt_logprobs=[None, {5: Logprob(-1.0, 1, "b")}]))
    first = facts.attach(EngineDelta([1], "a"))
    assert first.cached_tokens == 0  # the first output's count
    assert first.prompt_logprobs is not None and len(first.prompt_logprobs) == 2
    facts.note(Output(num_cached_tokens=5))
    later = facts.attach(EngineDelta([2], "b"))
    assert later.cached_tokens is None and later.prompt_logprobs is None
