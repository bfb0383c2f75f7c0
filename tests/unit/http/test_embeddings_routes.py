"""/v1/embeddings, /v1/rerank and /v1/score in-process over fake pooling engines: the wire
shapes, every refusal a 400 before engine work, and the shared keys, limits and metrics."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from tera_serve.default_embedding_model import ensure_embedding_model
from tera_serve.engine.pooling import EMBED
from tests.support.fake_pooling import (
    CHAT_MODEL,
    EMBED_MODEL,
    FAKE_DIMENSIONS,
    RERANK_MODEL,
    FakePoolingEngine,
    pooling_server,
)
from tests.unit.security.support import make_keys_file


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    return ensure_embedding_model()


async def test_float_and_base64_bodies_carry_the_same_vectors(
    minilm_dir: Path, smollm_dir: Path
) -> None:
    async with pooling_server(minilm_dir, smollm_dir) as (client, engines):
        floats = await client.post(
            "/v1/embeddings", json={"model": EMBED_MODEL, "input": ["hello world", "good day"]}
        )
        assert floats.status_code == 200, floats.text
        body = floats.json()
        assert body["object"] == "list" and body["model"] == EMBED_MODEL
        assert [d["index"] for d in body["data"]] == [0, 1]
        assert all(d["object"] == "embedding" for d in body["data"])
        assert len(body["data"][0]["embedding"]) == FAKE_DIMENSIONS
        tokens = sum(len(ids) for _, ids in engines[EMBED_MODEL].calls)
        assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}
        encoded = await client.post(
            "/v1/embeddings",
            json={
                "model": EMBED_MODEL,
                "input": ["hello world", "good day"],
                "encoding_format": "base64",
            },
        )
        for plain, packed in zip(body["data"], encoded.json()["data"], strict=True):
            decoded = np.frombuffer(base64.b64decode(packed["embedding"]), dtype="<f4")
            assert np.allclose(decoded, plain["embedding"])


async def test_token_inputs_go_to_the_engine_as_they_are(
    minilm_dir: Path, smollm_dir: Path
) -> None:
    async with pooling_server(minilm_dir, smollm_dir) as (client, engines):
        one = await client.post(
            "/v1/embeddings", json={"model": EMBED_MODEL, "input": [101, 7592, 102]}
        )
        many = await client.post(
            "/v1/embeddings", json={"model": EMBED_MODEL, "input": [[101, 102], [7592]]}
        )
        text = await client.post("/v1/embeddings", json={"model": EMBED_MODEL, "input": "hello"})
    assert one.status_code == many.status_code == text.status_code == 200
    assert len(one.json()["data"]) == 1 and len(many.json()["data"]) == 2
    sent = [ids for _, ids in engines[EMBED_MODEL].calls]
    # A text gets the model's special tokens ([CLS] ... [SEP]); token arrays do not.
    assert sent == [(101, 7592, 102), (101, 102), (7592,), (101, 7592, 102)]
    assert one.json()["usage"]["prompt_tokens"] == 3


BAD_EMBEDDING_BODIES: list[tuple[dict[str, object], str, str]] = [
    ({"input": ""}, "input", "empty string"),
    ({"input": ["a", ""]}, "input[1]", "empty string"),
    ({"input": []}, "input", "must not be empty"),
    ({"input": [[]]}, "input[0]", "empty array"),
    ({"input": [[1], [30522]]}, "input[1]", "vocabulary"),
    ({"input": [-1]}, "input", "vocabulary"),
    ({"input": [["a"]]}, "input", "array of token arrays"),
    ({"input": [[[1]]]}, "input", "array of token arrays"),
    ({"input": [1, "a"]}, "input", "array of token arrays"),
    ({"input": [True]}, "input", "bool"),
    ({"input": 5}, "input", "array of token arrays"),
    ({"input": {"text": "a"}}, "input", "array of token arrays"),
    ({"input": ["x"] * 10_000}, "input", "10000 items"),
    ({"input": "word " * 300}, "input", "window is 256"),
    ({"input": ["a", "word " * 300]}, "input[1]", "window is 256"),
    ({"input": "a", "dimensions": 8}, "dimensions", "not a Matryoshka model"),
    ({"input": "a", "encoding_format": "int8"}, "encoding_format", ""),
    ({"input": "a", "truncate_prompt_tokens": 999}, "truncate_prompt_tokens", "window"),
    ({}, "input", ""),
]


async def test_bad_embedding_requests_are_400_naming_the_field(
    minilm_dir: Path, smollm_dir: Path
) -> None:
    async with pooling_server(minilm_dir, smollm_dir) as (client, engines):
        for body, param, says in BAD_EMBEDDING_BODIES:
            response = await client.post("/v1/embeddings", json={"model": EMBED_MODEL, **body})
            assert response.status_code == 400, (body, response.text)
            error = response.json()["error"]
            assert error["type"] == "invalid_request_error", body
            assert error["param"] == param and says in error["message"], (body, error)
    assert engines[EMBED_MODEL].calls == []  # every one refused before any engine work


async def test_truncation_keeps_the_first_tokens_and_the_special_ones(
    minilm_dir: Path, smollm_dir: Path
) -> None:
    async with pooling_server(minilm_dir, smollm_dir) as (client, engines):
        whole = await client.post(
            "/v1/embeddings",
            json={"model": EMBED_MODEL, "input": "word " * 300, "truncate_prompt_tokens": -1},
        )
        short = await client.post(
            "/v1/embeddings",
            json={"model": EMBED_MODEL, "input": ["word " * 300], "truncate_prompt_tokens": 10},
        )
        ids = await client.post(
            "/v1/embeddings",
            json={"model": EMBED_MODEL, "input": [[5] * 400], "truncate_prompt_tokens": 10},
        )
    assert whole.status_code == short.status_code == ids.status_code == 200
    sent = [ids for _, ids in engines[EMBED_MODEL].calls]
    assert len(sent[0]) == 256 and sent[0][0] == 101 and sent[0][-1] == 102
    assert len(sent[1]) == 10 and sent[1][-1] == 102 and sent[2] == (5,) * 10
    assert whole.json()["usage"]["prompt_tokens"] == 256


async def test_matryoshka_dimensions_truncate_then_renormalize(
    minilm_dir: Path, smollm_dir: Path
) -> None:
    engines = {EMBED_MODEL: FakePoolingEngine(EMBED, matryoshka=True)}
    async with pooling_server(minilm_dir, smollm_dir, engines=engines) as (client, _):
        short = await client.post(
            "/v1/embeddings", json={"model": EMBED_MODEL, "input": "hello world", "dimensions": 16}
        )
        full = await client.post(
            "/v1/embeddings", json={"model": EMBED_MODEL, "input": "hello world"}
        )
        too_many = await client.post(
            "/v1/embeddings", json={"model": EMBED_MODEL, "input": "a", "dimensions": 65}
        )
    vector = np.array(short.json()["data"][0]["embedding"])
    whole = np.array(full.json()["data"][0]["embedding"])
    assert vector.shape == (16,) and np.isclose(np.linalg.norm(vector), 1.0)
    assert np.allclose(vector, whole[:16] / np.linalg.norm(whole[:16]), atol=1e-6)
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "dimensions"


async def test_total_tokens_are_bounded_before_any_work(minilm_dir: Path, smollm_dir: Path) -> None:
    async with pooling_server(
        minilm_dir, smollm_dir, server_overrides={"max_embedding_tokens": 20}
    ) as (client, engines):
        response = await client.post(
            "/v1/embeddings", json={"model": EMBED_MODEL, "input": ["one two three four five"] * 4}
        )
    assert response.status_code == 400 and response.json()["error"]["code"] == "too_many_tokens"
    assert engines[EMBED_MODEL].calls == []


async def test_each_kind_of_model_refuses_the_others_routes_by_name(
    minilm_dir: Path, smollm_dir: Path
) -> None:
    async with pooling_server(minilm_dir, smollm_dir) as (client, _):
        to_chat = await client.post("/v1/embeddings", json={"model": CHAT_MODEL, "input": "a"})
        chat_to_embedder = await client.post(
            "/v1/chat/completions",
            json={"model": EMBED_MODEL, "messages": [{"role": "user", "content": "hi"}]},
        )
        embed_on_reranker = await client.post(
            "/v1/embeddings", json={"model": RERANK_MODEL, "input": "a"}
        )
        rerank_on_chat = await client.post(
            "/v1/rerank", json={"model": CHAT_MODEL, "query": "q", "documents": ["d"]}
        )
        # Every text route, streamed or not, refuses a pooling model before the first byte.
        text_routes = [
            await client.post(path, json={"model": model, **body, "stream": stream})
            for path, body in (
                ("/v1/completions", {"prompt": "hi"}),
                ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
                ("/v1/messages", {"max_tokens": 4, "messages": [{"role": "user", "content": "x"}]}),
                ("/v1/responses", {"input": "hi"}),
            )
            for model in (EMBED_MODEL, RERANK_MODEL)
            for stream in (False, True)
        ]
    for response, model in (
        (to_chat, CHAT_MODEL),
        (chat_to_embedder, EMBED_MODEL),
        (embed_on_reranker, RERANK_MODEL),
        (rerank_on_chat, CHAT_MODEL),
    ):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert model in error["message"] and error["param"] == "model"
    assert len(text_routes) == 16
    for response in text_routes:
        assert response.status_code == 400, (response.request.url, response.text)
        assert "generates no text" in response.text


async def test_models_lists_pooling_models_with_their_dimensions(
    minilm_dir: Path, smollm_dir: Path
) -> None:
    async with pooling_server(minilm_dir, smollm_dir) as (client, _):
        cards = {c["id"]: c for c in (await client.get("/v1/models")).json()["data"]}
        one = (await client.get(f"/v1/models/{EMBED_MODEL}")).json()
    assert one == cards[EMBED_MODEL]
    assert one["task"] == "embedding" and one["dimensions"] == FAKE_DIMENSIONS
    assert one["input_modalities"] == ["text"] and one["output_modalities"] == ["embedding"]
    assert cards[RERANK_MODEL]["task"] == "rerank"
    assert "/v1/embeddings" not in cards[RERANK_MODEL]["endpoints"]
    assert "task" not in cards[CHAT_MODEL]


async def test_rerank_orders_and_cuts_on_both_kinds_of_model(
    minilm_dir: Path, smollm_dir: Path
) -> None:
    documents = ["bananas are yellow", "the capital of france is paris", "a red car"]
    async with pooling_server(minilm_dir, smollm_dir) as (client, engines):
        results = {}
        for model in (EMBED_MODEL, RERANK_MODEL):
            response = await client.post(
                "/v1/rerank",
                json={
                    "model": model,
                    "query": "capital of france",
                    "documents": documents,
                    "top_n": 2,
                },
            )
            assert response.status_code == 200, response.text
            results[model] = response.json()
        bare = await client.post(
            "/v1/rerank",
            json={
                "model": RERANK_MODEL,
                "query": "paris",
                "documents": documents,
                "return_documents": False,
            },
        )
    for body in results.values():
        assert body["results"][0]["index"] == 1
        assert len(body["results"]) == 2
        assert body["results"][0]["document"] == {"text": documents[1]}
        scores = [r["relevance_score"] for r in body["results"]]
        assert scores == sorted(scores, reverse=True)
        assert body["usage"]["prompt_tokens"] > 0
    # The cross-encoder saw each pair as one sequence, the document after the query's [SEP].
    pair = engines[RERANK_MODEL].pairs[0]
    assert pair.token_ids[0] == 101 and pair.second_start is not None
    assert pair.token_ids[pair.second_start - 1] == 102
    assert all("document" not in r for r in bare.json()["results"])
    assert len(bare.json()["results"]) == 3


async def test_score_pairs_one_to_many_and_pairwise(minilm_dir: Path, smollm_dir: Path) -> None:
    async with pooling_server(minilm_dir, smollm_dir) as (client, _):
        one_to_many = await client.post(
            "/v1/score", json={"model": EMBED_MODEL, "text_1": "paris", "text_2": ["paris", "rome"]}
        )
        pairwise = await client.post(
            "/v1/score",
            json={"model": RERANK_MODEL, "text_1": ["a b", "c"], "text_2": ["a b", "d"]},
        )
        mismatched = await client.post(
            "/v1/score",
            json={"model": EMBED_MODEL, "text_1": ["a", "b"], "text_2": ["a", "b", "c"]},
        )
        empty = await client.post(
            "/v1/score", json={"model": EMBED_MODEL, "text_1": "", "text_2": "a"}
        )
    data = one_to_many.json()["data"]
    assert [d["index"] for d in data] == [0, 1] and data[0]["object"] == "score"
    assert data[0]["score"] == pytest.approx(1.0) and data[1]["score"] < 1.0
    first, second = (d["score"] for d in pairwise.json()["data"])
    assert first == pytest.approx(1.0) and second < first
    assert mismatched.status_code == 400 and mismatched.json()["error"]["param"] == "text_1"
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "text_1"


async def test_keys_scopes_and_token_limits_apply(
    minilm_dir: Path, smollm_dir: Path, tmp_path: Path
) -> None:
    keys_file = tmp_path / "keys.yaml"
    secrets = make_keys_file(
        keys_file,
        {"chat-only": {"models": (CHAT_MODEL,)}, "tiny": {"tpm": 5}, "all": {"scopes": ("admin",)}},
    )
    async with pooling_server(
        minilm_dir, smollm_dir, server_overrides={"keys_file": str(keys_file)}
    ) as (client, _):

        def post(key: str, text: str) -> object:
            return client.post(
                "/v1/embeddings",
                json={"model": EMBED_MODEL, "input": text},
                headers={"Authorization": f"Bearer {secrets[key]}"},
            )

        no_key = await client.post("/v1/embeddings", json={"model": EMBED_MODEL, "input": "a"})
        scoped = await post("chat-only", "a")
        first = await post("tiny", "one two three four five six")
        second = await post("tiny", "one")
        fine = await post("all", "a")
        metrics = await client.get(
            "/metrics", headers={"Authorization": f"Bearer {secrets['all']}"}
        )
    assert no_key.status_code == 401
    assert scoped.status_code == 403 and scoped.json()["error"]["code"] == "model_not_allowed"
    assert first.status_code == 200 and second.status_code == 429
    assert fine.status_code == 200 and fine.headers["x-tera-request-id"]
    text = metrics.text
    assert (
        f'tera_embedding_inputs_total{{endpoint="/v1/embeddings",model="{EMBED_MODEL}"}} 2.0'
        in text
    )
    assert "tera_embedding_input_tokens_total" in text
