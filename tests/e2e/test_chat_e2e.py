"""The foundation through the real process: OpenAI SDK and raw SSE against real vLLM."""

from __future__ import annotations

import time

import httpx
import openai
import orjson
import pytest

from tests.e2e.conftest import DEFAULT_MODEL
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
STORY = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]


@pytest.fixture(scope="module")
def client(default_server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=default_server.v1, api_key="unused", max_retries=0, timeout=120)


def sse_chunks(response: httpx.Response) -> list[dict]:
    frames = [f for f in response.text.split("\n\n") if f.strip()]
    assert frames[-1] == "data: [DONE]", frames[-3:]
    return [orjson.loads(f.removeprefix("data: ")) for f in frames[:-1]]


def test_capital_of_france_non_stream(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model=DEFAULT_MODEL, messages=QUESTION, max_tokens=40)
    assert "Paris" in (answer.choices[0].message.content or "")
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.prompt_tokens > 0


def test_capital_of_france_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=QUESTION,
        max_tokens=40,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Paris" in text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == "stop"


def test_stream_and_non_stream_usage_are_exact(
    client: openai.OpenAI, default_server: LiveServer
) -> None:
    tokens = httpx.post(
        default_server.base_url + "/tokenize", json={"model": DEFAULT_MODEL, "messages": QUESTION}
    ).json()
    answer = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=40, temperature=0
    )
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == tokens["count"]
    completion_ids = httpx.post(
        default_server.base_url + "/tokenize",
        json={
            "model": DEFAULT_MODEL,
            "prompt": answer.choices[0].message.content,
            "add_special_tokens": False,
        },
    ).json()
    # The answer re-tokenizes to the generated tokens, minus the end-of-turn token.
    assert answer.usage.completion_tokens in (completion_ids["count"], completion_ids["count"] + 1)


def test_seed_makes_sampling_repeatable(client: openai.OpenAI) -> None:
    def sample() -> str:
        answer = client.chat.completions.create(
            model=DEFAULT_MODEL, messages=STORY, max_tokens=24, temperature=1, seed=1234
        )
        return answer.choices[0].message.content or ""

    first, second = sample(), sample()
    assert first == second and first


def test_max_tokens_gives_length(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model=DEFAULT_MODEL, messages=STORY, max_tokens=5)
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens == 5


def test_max_completion_tokens_wins(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=STORY, max_tokens=50, max_completion_tokens=3
    )
    assert answer.usage is not None and answer.usage.completion_tokens == 3


def test_n_gives_choices(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model=DEFAULT_MODEL, messages=STORY, max_tokens=6, n=2)
    assert [c.index for c in answer.choices] == [0, 1]
    assert answer.usage is not None and answer.usage.completion_tokens == 12


def test_n_streams_both_choices(default_server: LiveServer) -> None:
    response = httpx.post(
        default_server.v1 + "/chat/completions",
        json={"model": DEFAULT_MODEL, "messages": STORY, "max_tokens": 4, "n": 2, "stream": True},
        timeout=120,
    )
    chunks = sse_chunks(response)
    finished = sorted(c["choices"][0]["index"] for c in chunks if c["choices"][0]["finish_reason"])
    assert finished == [0, 1]
    roles = [c["choices"][0]["index"] for c in chunks if c["choices"][0]["delta"].get("role")]
    assert sorted(roles) == [0, 1]


def test_logprobs_with_top_alternatives(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=5, logprobs=True, top_logprobs=3
    )
    content = answer.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content is not None and len(content) == answer.usage.completion_tokens  # type: ignore[union-attr]
    for position in content:
        assert len(position.top_logprobs) == 3
        assert position.logprob <= 0.0


def test_stop_strings(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=40, temperature=0, stop=["Paris"]
    )
    assert "Paris" not in (answer.choices[0].message.content or "")
    assert answer.choices[0].finish_reason == "stop"


def test_sampling_fields_and_unknown_fields_accepted(default_server: LiveServer) -> None:
    response = httpx.post(
        default_server.v1 + "/chat/completions",
        headers={"OpenAI-Organization": "org-x", "OpenAI-Project": "proj-y"},
        json={
            "model": DEFAULT_MODEL,
            "messages": QUESTION,
            "max_tokens": 4,
            "temperature": 0.7,
            "top_p": 0.9,
            "top_k": 20,
            "min_p": 0.05,
            "frequency_penalty": 0.5,
            "presence_penalty": 0.5,
            "repetition_penalty": 1.1,
            "ignore_eos": True,
            "some_future_openai_field": {"x": 1},
            "metadata": {"k": "v"},
            "store": False,
        },
        timeout=120,
    )
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["completion_tokens"] == 4


def test_request_ids_are_unique(default_server: LiveServer) -> None:
    ids = {httpx.get(default_server.v1 + "/models").headers["x-tera-request-id"] for _ in range(5)}
    assert len(ids) == 5


def test_models_lists_tera_fields(client: openai.OpenAI, default_server: LiveServer) -> None:
    body = httpx.get(default_server.v1 + "/models").json()
    assert body["object"] == "list"
    # The embedded default serves Kokoro-82M for speech beside the chat model.
    (card,) = [c for c in body["data"] if c["output_modalities"] == ["text"]]
    assert card["id"] == DEFAULT_MODEL
    assert card["context_length"] == 8192
    assert card["max_output_length"] == 4096
    assert card["quantization"] == "fp32"
    assert card["hugging_face_id"] == DEFAULT_MODEL
    assert set(card["pricing"]) == {"input", "output", "cache_read"}
    assert "temperature" in card["supported_sampling_parameters"]
    assert "logprobs" in card["supported_features"]
    served = {m.id for m in client.models.list()}
    assert served == {DEFAULT_MODEL, "hexgrad/Kokoro-82M", "sentence-transformers/all-MiniLM-L6-v2"}


def test_text_completions(client: openai.OpenAI) -> None:
    single = client.completions.create(
        model=DEFAULT_MODEL, prompt="The capital of France is", max_tokens=4
    )
    assert single.object == "text_completion" and single.choices[0].text
    assert single.choices[0].finish_reason in ("stop", "length")
    several = client.completions.create(
        model=DEFAULT_MODEL, prompt=["One, two,", "Red, green,"], max_tokens=3, temperature=0
    )
    assert [c.index for c in several.choices] == [0, 1]
    streamed = client.completions.create(
        model=DEFAULT_MODEL, prompt="One, two,", max_tokens=3, temperature=0, stream=True
    )
    text = "".join(c.choices[0].text for c in streamed if c.choices)
    assert text == several.choices[0].text


def test_health(default_server: LiveServer) -> None:
    response = httpx.get(default_server.base_url + "/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_client_disconnect_aborts_stream(default_server: LiveServer) -> None:
    with (
        httpx.Client(timeout=120) as http,
        http.stream(
            "POST",
            default_server.v1 + "/chat/completions",
            json={
                "model": DEFAULT_MODEL,
                "messages": STORY,
                "max_tokens": 2000,
                "ignore_eos": True,
                "stream": True,
            },
        ) as response,
    ):
        lines = response.iter_lines()
        received = 0
        for line in lines:
            if line.startswith("data: "):
                received += 1
            if received >= 3:
                break
        assert default_server.unfinished_requests() >= 1
    assert_engine_drains(default_server)


def test_abandoned_non_stream_request_is_aborted(default_server: LiveServer) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            default_server.v1 + "/chat/completions",
            json={
                "model": DEFAULT_MODEL,
                "messages": STORY,
                "max_tokens": 2000,
                "ignore_eos": True,
            },
            timeout=httpx.Timeout(5, read=1.5),
        )
    assert_engine_drains(default_server)


def assert_engine_drains(server: LiveServer, within_s: float = 15) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if server.unfinished_requests() == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"engine still holds {server.unfinished_requests()} requests")
