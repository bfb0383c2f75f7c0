"""Two models in one process, each with its own vLLM engine, routed by `model`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from tests.e2e.conftest import DEFAULT_MODEL
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

TINY_ID = "tera-test/tiny-qwen3"


@pytest.fixture(scope="module")
def two_models(
    tmp_path_factory: pytest.TempPathFactory, smollm_dir: Path, tiny_qwen3_dir: Path
) -> Iterator[LiveServer]:
    config = {
        "models": [
            {
                "model": "@embedded",
                "served_model_name": DEFAULT_MODEL,
                "aliases": ["smollm2"],
                "engine_args": {"dtype": "float32", "enforce_eager": True, "max_model_len": 2048},
                "default_sampling": {"temperature": 0.0},
            },
            {
                "model": str(tiny_qwen3_dir),
                "served_model_name": TINY_ID,
                "engine_args": {"dtype": "float32", "enforce_eager": True, "max_model_len": 1024},
            },
        ]
    }
    path = tmp_path_factory.mktemp("multi") / "two-models.yaml"
    path.write_text(yaml.safe_dump(config))
    with live_server(["--config", str(path)], "two-models") as server:
        yield server


def test_each_model_answers_under_its_own_id(two_models: LiveServer) -> None:
    client = openai.OpenAI(base_url=two_models.v1, api_key="unused", max_retries=0, timeout=120)
    small = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=20,
    )
    assert small.model == DEFAULT_MODEL and "Paris" in (small.choices[0].message.content or "")
    alias = client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert alias.model == "smollm2"
    tiny = client.chat.completions.create(
        model=TINY_ID,
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=4,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}, "ignore_eos": True},
    )
    assert tiny.model == TINY_ID and tiny.usage is not None and tiny.usage.completion_tokens == 4


def test_models_lists_both_and_unknown_is_404(two_models: LiveServer) -> None:
    ids = [m["id"] for m in httpx.get(two_models.v1 + "/models").json()["data"]]
    assert set(ids) == {DEFAULT_MODEL, "smollm2", TINY_ID}
    cards = {m["id"]: m for m in httpx.get(two_models.v1 + "/models").json()["data"]}
    assert cards[TINY_ID]["context_length"] == 1024
    assert cards[DEFAULT_MODEL]["context_length"] == 2048
    missing = httpx.post(
        two_models.v1 + "/chat/completions",
        json={"model": "third/model", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "model_not_found"
    health = httpx.get(two_models.base_url + "/health").json()
    assert health["models"] == {DEFAULT_MODEL: "ready", TINY_ID: "ready"}
