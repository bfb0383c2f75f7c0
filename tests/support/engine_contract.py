"""The Engine protocol's contract (tera_serve/engine/base.py), as checks any engine must pass.

The service layer relies on these and nothing more: deltas until one finish reason, text
that is the decoded tokens, logprobs per token, prompt facts on the first delta only, a
scoring request (max_tokens 0) that yields one empty delta, and a closed stream that frees
its slot. The fake engine runs them in the unit tests (tests/unit/engine/test_fake.py) and
the vLLM engine in an end-to-end test (tests/e2e/test_engine_contract_e2e.py, through
`python -m tests.support.engine_contract MODEL_DIR`), so a test written against the fake
holds for the real engine too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from tera_serve.engine.base import Engine, EngineDelta, EngineRequest, SamplingSpec

FREE_SLOT_WAIT_S = 30.0
"""A hang bound, not a timing check: how long a closed stream may take to free its slot."""
_ids = itertools.count()


@dataclass(frozen=True)
class Subject:
    """An engine under test, a tokenizer of its model and a prompt of at least 4 tokens."""

    engine: Engine
    tokenizer: Any
    prompt: tuple[int, ...]


def request(subject: Subject, max_tokens: int, **sampling: Any) -> EngineRequest:
    """A greedy request that runs to `max_tokens` (ignore_eos) unless told otherwise."""
    spec = SamplingSpec(
        max_tokens=max_tokens,
        temperature=0.0,
        ignore_eos=True,
        skip_special_tokens=False,
    )
    return EngineRequest(
        request_id=f"contract-{next(_ids)}",
        prompt_token_ids=subject.prompt,
        sampling=replace(spec, **sampling),
    )


async def collect(subject: Subject, req: EngineRequest) -> list[EngineDelta]:
    return [delta async for delta in subject.engine.generate(req)]


def token_ids(deltas: list[EngineDelta]) -> list[int]:
    return [t for d in deltas for t in d.token_ids]


async def slots_freed(engine: Engine) -> bool:
    deadline = time.monotonic() + FREE_SLOT_WAIT_S
    while engine.unfinished_requests() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return engine.unfinished_requests() == 0


async def one_finish_reason_on_the_last_delta(subject: Subject) -> None:
    deltas = await collect(subject, request(subject, 6))
    assert [d.finish_reason for d in deltas[:-1]] == [None] * (len(deltas) - 1)
    assert deltas[-1].finish_reason == "length"
    assert len(token_ids(deltas)) == 6


async def text_is_the_decoded_tokens(subject: Subject) -> None:
    deltas = await collect(subject, request(subject, 8))
    text = "".join(d.text for d in deltas)
    assert text == subject.tokenizer.decode(token_ids(deltas), skip_special_tokens=False)


async def greedy_output_repeats(subject: Subject) -> None:
    first = await collect(subject, request(subject, 5))
    second = await collect(subject, request(subject, 5))
    assert token_ids(first) == token_ids(second)


async def logprobs_come_per_token(subject: Subject) -> None:
    deltas = await collect(subject, request(subject, 4, logprobs=2))
    for delta in deltas:
        if not delta.token_ids:
            continue
        assert delta.logprobs is not None
        assert [p.chosen.token_id for p in delta.logprobs] == delta.token_ids
        for position in delta.logprobs:
            assert position.chosen.logprob <= 0.0
            assert len(position.top) <= 2
            assert [t.rank for t in position.top] == list(range(1, len(position.top) + 1))
    plain = await collect(subject, request(subject, 2))
    assert all(d.logprobs is None for d in plain)


async def prompt_facts_ride_on_the_first_delta(subject: Subject) -> None:
    deltas = await collect(subject, request(subject, 4))
    cached = deltas[0].cached_tokens
    assert cached is not None and 0 <= cached < len(subject.prompt)
    assert deltas[0].prompt_logprobs is None
    assert all(d.cached_tokens is None and d.prompt_logprobs is None for d in deltas[1:])


async def prompt_logprobs_cover_the_prompt(subject: Subject) -> None:
    deltas = await collect(subject, request(subject, 2, prompt_logprobs=1))
    positions = deltas[0].prompt_logprobs
    assert positions is not None and len(positions) == len(subject.prompt)
    assert positions[0] is None  # nothing comes before the first token
    assert [p.chosen.token_id for p in positions[1:] if p] == list(subject.prompt[1:])
    assert deltas[0].cached_tokens == 0  # every position computed anew


async def scoring_yields_one_empty_delta(subject: Subject) -> None:
    deltas = await collect(subject, request(subject, 0, prompt_logprobs=0))
    assert len(deltas) == 1
    only = deltas[0]
    assert (only.token_ids, only.text, only.finish_reason) == ([], "", "length")
    assert only.prompt_logprobs is not None and len(only.prompt_logprobs) == len(subject.prompt)


async def closing_early_frees_the_slot(subject: Subject) -> None:
    long = min(512, subject.engine.info.max_model_len - len(subject.prompt) - 1)
    stream = subject.engine.generate(request(subject, long))
    got = [await anext(stream), await anext(stream)]
    assert all(d.finish_reason is None for d in got)
    assert subject.engine.unfinished_requests() >= 1
    await stream.aclose()  # type: ignore[attr-defined]
    assert await slots_freed(subject.engine)


async def concurrent_requests_each_finish(subject: Subject) -> None:
    results = await asyncio.gather(*(collect(subject, request(subject, 5)) for _ in range(4)))
    assert [len(token_ids(deltas)) for deltas in results] == [5] * 4
    assert all(deltas[-1].finish_reason == "length" for deltas in results)
    assert await slots_freed(subject.engine)


async def aborting_a_finished_request_is_harmless(subject: Subject) -> None:
    req = request(subject, 2)
    await collect(subject, req)
    await subject.engine.abort(req.request_id)
    await subject.engine.abort("contract-never-sent")
    assert subject.engine.unfinished_requests() == 0
    assert subject.engine.is_healthy()


async def a_plain_request_validates(subject: Subject) -> None:
    subject.engine.validate(request(subject, 4))  # raises EngineRequestError if refused
    assert subject.engine.info.max_model_len > len(subject.prompt)


Check = Callable[[Subject], Awaitable[None]]
CONTRACT: dict[str, Check] = {
    check.__name__: check
    for check in (
        one_finish_reason_on_the_last_delta,
        text_is_the_decoded_tokens,
        greedy_output_repeats,
        logprobs_come_per_token,
        prompt_facts_ride_on_the_first_delta,
        prompt_logprobs_cover_the_prompt,
        scoring_yields_one_empty_delta,
        closing_early_frees_the_slot,
        concurrent_requests_each_finish,
        aborting_a_finished_request_is_harmless,
        a_plain_request_validates,
    )
}


async def run_contract(subject: Subject) -> dict[str, str]:
    """Every check in turn: {name: "ok" or the failure}."""
    results: dict[str, str] = {}
    for name, check in CONTRACT.items():
        try:
            await check(subject)
        except Exception:  # reported per check, with the failing line
            results[name] = traceback.format_exc(limit=-1)
        else:
            results[name] = "ok"
    return results


async def _vllm_contract(model_dir: str) -> dict[str, str]:
    from transformers import AutoTokenizer

    from tera_serve.engine.vllm_engine import VllmEngine

    engine_args = {"dtype": "float32", "enforce_eager": True, "max_model_len": 1024}
    engine = VllmEngine.start(model_dir, engine_args, None)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        prompt = tuple(tokenizer.encode("One, two, three, four, five, six, seven, eight,"))
        return await run_contract(Subject(engine, tokenizer, prompt))
    finally:
        await engine.close()


def main() -> None:
    """`python -m tests.support.engine_contract MODEL_DIR`: the contract on a real vLLM
    engine in this process; prints {check: result} as JSON, exits 1 if any failed."""
    from tera_serve.runtime_env import prepare_vllm_environment

    prepare_vllm_environment()
    results = asyncio.run(_vllm_contract(sys.argv[1]))
    print(json.dumps(results))
    sys.exit(0 if all(r == "ok" for r in results.values()) else 1)


if __name__ == "__main__":
    main()
