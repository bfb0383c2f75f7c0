"""Rerank and score on a cross-encoder through the real process: a tiny random BERT
`...ForSequenceClassification` on the MiniLM tokenizer, on vLLM's pooling runner. Its
scores must be plain transformers' (sigmoid of the logit over the pair with its token
types), and /v1/rerank must order the documents by them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

RERANKER = "tera-test/tiny-cross-encoder"
QUERY = "what is the capital of france"
DOCUMENTS = [
    "Paris is the capital and largest city of France.",
    "Bananas are rich in potassium.",
    "The Louvre is a museum in Paris.",
    "Berlin is the capital of Germany.",
    "Cats sleep for most of the day.",
]


@pytest.fixture(scope="module")
def cross_encoder_dir() -> Path:
    from tests.fixtures.cross_encoder import build_tiny_cross_encoder

    return build_tiny_cross_encoder()


@pytest.fixture(scope="module")
def reranker(
    cross_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    config = tmp_path_factory.mktemp("rerank") / "rerank.yaml"
    config.write_text(
        "models:\n"
        f"  - model: {cross_encoder_dir}\n"
        "    task: rerank\n"
        f"    served_model_name: {RERANKER}\n"
        "    engine_args: {dtype: float32, enforce_eager: true}\n"
    )
    with live_server(["--config", str(config)], "rerank") as server:
        yield server


def reference_scores(folder: Path, query: str, documents: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    batch = tokenizer([query] * len(documents), documents, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits[:, 0]
    return torch.sigmoid(logits).numpy()


def test_rerank_orders_by_the_cross_encoders_own_scores(
    reranker: LiveServer, cross_encoder_dir: Path
) -> None:
    response = httpx.post(
        reranker.v1 + "/rerank",
        json={"model": RERANKER, "query": QUERY, "documents": DOCUMENTS},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    results = body["results"]
    expected = reference_scores(cross_encoder_dir, QUERY, DOCUMENTS)
    assert [r["index"] for r in results] == list(np.argsort(-expected))
    for result in results:
        assert result["relevance_score"] == pytest.approx(expected[result["index"]], abs=1e-4)
        assert result["document"]["text"] == DOCUMENTS[result["index"]]
    assert body["model"] == RERANKER and body["usage"]["prompt_tokens"] > len(DOCUMENTS) * 5
    top = httpx.post(
        reranker.v1 + "/rerank",
        json={"model": RERANKER, "query": QUERY, "documents": DOCUMENTS, "top_n": 2},
        timeout=120,
    ).json()["results"]
    assert [r["index"] for r in top] == [r["index"] for r in results[:2]]


def test_score_matches_rerank_and_the_model_lists_as_a_reranker(reranker: LiveServer) -> None:
    score = httpx.post(
        reranker.v1 + "/score",
        json={"model": RERANKER, "text_1": QUERY, "text_2": DOCUMENTS[:2]},
        timeout=120,
    )
    rerank = httpx.post(
        reranker.v1 + "/rerank",
        json={
            "model": RERANKER,
            "query": QUERY,
            "documents": DOCUMENTS[:2],
            "return_documents": False,
        },
        timeout=120,
    ).json()["results"]
    by_index = {r["index"]: r["relevance_score"] for r in rerank}
    assert [d["score"] for d in score.json()["data"]] == pytest.approx([by_index[0], by_index[1]])
    card = httpx.get(reranker.v1 + f"/models/{RERANKER}", timeout=30).json()
    assert card["task"] == "rerank" and "/v1/embeddings" not in card["endpoints"]
    refused = httpx.post(
        reranker.v1 + "/embeddings", json={"model": RERANKER, "input": "a"}, timeout=30
    )
    assert refused.status_code == 400 and "cross-encoder" in refused.json()["error"]["message"]
