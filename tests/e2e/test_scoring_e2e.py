"""Prompt scoring through the real process and real vLLM: echo, prompt logprobs, the prefix
cache's hits in usage and /metrics, continuous usage. What an evaluation harness relies on."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.e2e.conftest import DEFAULT_MODEL
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def client(default_server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=default_server.v1, api_key="unused", max_retries=0, timeout=120)


def post(server: LiveServer, path: str, **fields: Any) -> httpx.Response:
    return httpx.post(server.v1 + path, json={"model": DEFAULT_MODEL, **fields}, timeout=120)


def sse_chunks(response: httpx.Response) -> list[Any]:
    frames = [f for f in response.text.split("\n\n") if f.strip()]
    assert frames[-1] == "data: [DONE]", frames[-3:]
    return [orjson.loads(f.removeprefix("data: ")) for f in frames[:-1]]


def test_echo_with_logprobs_through_the_openai_sdk(client: openai.OpenAI) -> None:
    answer = client.completions.create(
        model=DEFAULT_MODEL, prompt=PROMPT, max_tokens=3, temperature=0, echo=True, logprobs=1
    )
    choice = answer.choices[0]
    assert choice.text.startswith(PROMPT) and len(choice.text) > len(PROMPT)
    lp = choice.logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.top_logprobs is not None
    n_prompt = answer.usage.prompt_tokens  # type: ignore[union-attr]
    assert len(lp.tokens) == n_prompt + answer.usage.completion_tokens  # type: ignore[union-attr]
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert all(v is not None and v <= 0 for v in lp.token_logprobs[1:])
    assert "".join(lp.tokens) == choice.text
    assert lp.text_offset == [len("".join(lp.tokens[:i])) for i in range(len(lp.tokens))]


def test_greedy_tokens_score_as_they_were_generated(default_server: LiveServer) -> None:
    generated = post(
        default_server, "/completions", prompt=PROMPT, max_tokens=8, temperature=0, logprobs=1
    ).json()["choices"][0]["logprobs"]
    prompt_ids = httpx.post(
        default_server.base_url + "/tokenize", json={"model": DEFAULT_MODEL, "prompt": PROMPT}
    ).json()["tokens"]
    scored = post(
        default_server,
        "/completions",
        prompt=PROMPT + "".join(generated["tokens"]),
        max_tokens=0,
        echo=True,
        logprobs=1,
    ).json()
    choice = scored["choices"][0]
    assert scored["usage"]["completion_tokens"] == 0 and choice["finish_reason"] == "length"
    assert choice["text"] == PROMPT + "".join(generated["tokens"])
    lp = choice["logprobs"]
    assert lp["tokens"][len(prompt_ids) :] == generated["tokens"]
    assert lp["token_logprobs"][len(prompt_ids) :] == pytest.approx(
        generated["token_logprobs"], abs=1e-4
    )
    # Greedy: each generated token is the top alternative when scored.
    for token, top in zip(
        lp["tokens"][len(prompt_ids) :], lp["top_logprobs"][len(prompt_ids) :], strict=True
    ):
        assert max(top, key=top.get) == token


def test_streamed_echo_sends_the_prompt_in_the_first_chunk(default_server: LiveServer) -> None:
    response = post(
        default_server,
        "/completions",
        prompt=PROMPT,
        max_tokens=4,
        temperature=0,
        echo=True,
        logprobs=0,
        stream=True,
        stream_options={"include_usage": True, "continuous_usage_stats": True},
    )
    chunks = sse_chunks(response)
    first = chunks[0]["choices"][0]
    assert first["text"].startswith(PROMPT) and first["logprobs"]["token_logprobs"][0] is None
    n_prompt = chunks[0]["usage"]["prompt_tokens"]
    generated = -n_prompt  # the first chunk's tokens are the prompt's, then the first new ones
    for chunk in chunks[:-1]:
        generated += len(chunk["choices"][0]["logprobs"]["tokens"])
        assert chunk["usage"] == {
            "prompt_tokens": n_prompt,
            "completion_tokens": generated,
            "total_tokens": n_prompt + generated,
        }
    assert chunks[-1]["usage"]["completion_tokens"] == generated == 4


def test_prompt_logprobs_on_completions_and_chat(default_server: LiveServer) -> None:
    body = post(
        default_server, "/completions", prompt=PROMPT, max_tokens=1, prompt_logprobs=2
    ).json()
    plp = body["choices"][0]["prompt_logprobs"]
    assert len(plp) == body["usage"]["prompt_tokens"] and plp[0] is None
    assert all(1 <= len(position) <= 3 for position in plp[1:])
    chat = post(
        default_server,
        "/chat/completions",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=1,
        prompt_logprobs=0,
    ).json()
    assert len(chat["prompt_logprobs"]) == chat["usage"]["prompt_tokens"]


def test_cached_tokens_on_the_second_of_two_prompts_sharing_a_prefix(
    default_server: LiveServer,
) -> None:
    # Unique per run, and longer than a few 128-token KV blocks (the CPU block size).
    preamble = f"Session {secrets.token_hex(8)}. " + " ".join(
        f"Rule {i}: answer politely and briefly." for i in range(60)
    )
    counter = "tera_cached_prompt_tokens_total"

    def cached_metric() -> float:
        text = httpx.get(default_server.base_url + "/metrics").text
        return sum(float(x.split()[-1]) for x in text.splitlines() if x.startswith(counter))

    before = cached_metric()
    usages = [
        post(default_server, "/completions", prompt=preamble + ending, max_tokens=1).json()["usage"]
        for ending in (" First question?", " Second question?")
    ]
    assert usages[0]["prompt_tokens"] > 300
    assert usages[0]["prompt_tokens_details"]["cached_tokens"] == 0
    assert 0 < usages[1]["prompt_tokens_details"]["cached_tokens"] < usages[1]["prompt_tokens"]
    chat = sse_chunks(
        post(
            default_server,
            "/chat/completions",
            messages=[{"role": "system", "content": preamble}, {"role": "user", "content": "hi"}],
            max_tokens=1,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    chat_cached = chat[-1]["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert (
        cached_metric() - before
        == usages[1]["prompt_tokens_details"]["cached_tokens"] + chat_cached
    )


def test_suffix_is_refused(default_server: LiveServer) -> None:
    response = post(default_server, "/completions", prompt=PROMPT, suffix=" Paris.")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "suffix"
