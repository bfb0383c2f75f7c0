"""The fake engine (tera_serve/engine/fake.py): the Engine contract the vLLM engine shares
(tests/support/engine_contract.py), then what only the fake promises to the tests that
script it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tera_serve.engine.base import EngineDeadError
from tera_serve.engine.fake import CACHE_BLOCK, FakeEngine
from tests.support.engine_contract import CONTRACT, Subject, collect, request, token_ids

SENTENCE = "The quick brown fox jumps over the lazy dog, and the café stays open. "


@pytest.fixture(scope="module")
def tokenizer(smollm_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(smollm_dir))


def fake(tokenizer: Any, text: str = SENTENCE * 40, **kwargs: Any) -> FakeEngine:
    ids = tokenizer.encode(text)
    return FakeEngine(tokenizer, lambda _r: ids, eos_token_id=tokenizer.eos_token_id, **kwargs)


def subject(engine: FakeEngine, tokenizer: Any, prompt: str = "One, two, three, four") -> Subject:
    return Subject(engine, tokenizer, tuple(tokenizer.encode(prompt)))


@pytest.mark.parametrize("check", list(CONTRACT))
async def test_the_engine_contract(check: str, tokenizer: Any) -> None:
    await CONTRACT[check](subject(fake(tokenizer), tokenizer))


@pytest.mark.parametrize("check", list(CONTRACT))
async def test_the_contract_holds_in_benchmark_mode(check: str, tokenizer: Any) -> None:
    engine = fake(tokenizer, SENTENCE * 40, per_token_text=True, prefix_caching=True)
    await CONTRACT[check](subject(engine, tokenizer))


async def test_eos_ends_with_stop_and_no_text(tokenizer: Any) -> None:
    eos = tokenizer.eos_token_id
    ids = [*tokenizer.encode("Paris."), eos, *tokenizer.encode("never sent")]
    engine = FakeEngine(tokenizer, lambda _r: ids, eos_token_id=eos)
    probe = subject(engine, tokenizer)
    deltas = await collect(probe, request(probe, 50, ignore_eos=False))
    assert token_ids(deltas) == ids[: ids.index(eos) + 1]
    assert deltas[-1].finish_reason == "stop" and deltas[-1].text == ""
    assert "".join(d.text for d in deltas) == "Paris."
    # ignore_eos runs through it, to the script's end (then `stop`).
    through = await collect(probe, request(probe, 50))
    assert token_ids(through) == ids and through[-1].finish_reason == "stop"


async def test_a_script_shorter_than_max_tokens_stops(tokenizer: Any) -> None:
    probe = subject(fake(tokenizer, "Hi."), tokenizer)
    deltas = await collect(probe, request(probe, 100))
    assert deltas[-1].finish_reason == "stop"
    assert len(token_ids(deltas)) == len(tokenizer.encode("Hi."))
    empty = FakeEngine(tokenizer, lambda _r: [])
    silent = Subject(empty, tokenizer, probe.prompt)
    deltas = await collect(silent, request(silent, 5))
    assert [(d.token_ids, d.finish_reason, d.cached_tokens) for d in deltas] == [([], "stop", 0)]


async def test_every_request_is_kept_unless_told_not_to(tokenizer: Any) -> None:
    engine = fake(tokenizer)
    probe = subject(engine, tokenizer)
    sent = request(probe, 2)
    await collect(probe, sent)
    assert engine.requests == [sent]
    quiet = fake(tokenizer, keep_requests=False)
    await collect(subject(quiet, tokenizer), request(probe, 2))
    assert quiet.requests == []


async def test_a_killed_engine_refuses_work(tokenizer: Any) -> None:
    engine = fake(tokenizer)
    engine.kill()
    assert not engine.is_healthy()
    probe = subject(engine, tokenizer)
    with pytest.raises(EngineDeadError):
        await collect(probe, request(probe, 2))


async def test_prefix_cache_hits_are_whole_blocks_of_a_shared_prefix(tokenizer: Any) -> None:
    engine = fake(tokenizer, prefix_caching=True)
    long = SENTENCE * 4
    first = subject(engine, tokenizer, long)
    assert len(first.prompt) > 2 * CACHE_BLOCK
    assert (await collect(first, request(first, 1)))[0].cached_tokens == 0  # nothing seen yet
    again = await collect(first, request(first, 1))
    hit = again[0].cached_tokens
    assert hit is not None and hit % CACHE_BLOCK == 0
    assert len(first.prompt) - CACHE_BLOCK <= hit < len(first.prompt)  # never the last token
    other = subject(engine, tokenizer, "Something else entirely. " * 8)
    assert (await collect(other, request(other, 1)))[0].cached_tokens == 0
    # Prompt logprobs compute every position: no cache read.
    scored = await collect(first, request(first, 1, prompt_logprobs=0))
    assert scored[0].cached_tokens == 0


async def test_a_prompt_token_scores_as_it_did_when_generated(tokenizer: Any) -> None:
    """logprob_at depends on (position, token) only: echo scoring agrees with generation."""
    engine = fake(tokenizer)
    probe = subject(engine, tokenizer)
    generated = await collect(probe, request(probe, 3, logprobs=1))
    continued = probe.prompt + tuple(token_ids(generated))
    rescored = Subject(engine, tokenizer, continued)
    positions = (await collect(rescored, request(rescored, 0, prompt_logprobs=1)))[0]
    assert positions.prompt_logprobs is not None
    tail = positions.prompt_logprobs[len(probe.prompt) :]
    got = [p.chosen.logprob for d in generated for p in d.logprobs or []]
    assert [p.chosen.logprob for p in tail if p] == got


async def test_a_shared_step_clock_paces_every_stream(tokenizer: Any) -> None:
    ticks: list[asyncio.Event] = []

    async def step() -> None:
        tick = asyncio.Event()
        ticks.append(tick)
        await tick.wait()

    seen: list[str] = []
    engine = fake(tokenizer, step_wait=step, on_delta=lambda rid, _d: seen.append(rid))
    probe = subject(engine, tokenizer)
    streams = [asyncio.ensure_future(collect(probe, request(probe, 3))) for _ in range(2)]
    for step_index in range(3):
        for _ in range(1000):  # a hang bound: both streams reach the step in a few yields
            if len(ticks) == 2:
                break
            await asyncio.sleep(0)
        assert len(ticks) == 2
        assert len(seen) == 2 * step_index  # no stream ran ahead of the clock
        for tick in ticks:
            tick.set()
        ticks.clear()
    results = await asyncio.gather(*streams)
    assert [len(token_ids(r)) for r in results] == [3, 3]
    assert len(seen) == 6
