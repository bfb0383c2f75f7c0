"""Embeddings through the real process: `tera-serve` with no --model serves all-MiniLM-L6-v2
beside SmolLM2 on vLLM's pooling runner. The openai SDK (float and its default base64) and
LangChain's OpenAIEmbeddings ask for vectors; plain transformers checks them."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from tests.e2e.conftest import DEFAULT_MODEL
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SENTENCES = [
    "The cat sat quietly on the warm windowsill.",
    "Stock markets fell sharply after the announcement.",
    "A hearty vegetable soup is perfect for winter evenings.",
]

CORPUS = [
    "The Eiffel Tower is the most visited monument in Paris.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar.",
    "The stock market closed higher on Friday after strong earnings.",
    "Regular exercise lowers the risk of heart disease.",
    "Mount Everest is the highest mountain above sea level.",
    "Python is a popular programming language for data science.",
    "The Great Wall of China stretches for thousands of kilometres.",
    "Coffee beans are roasted to bring out their flavour.",
    "Jupiter is the largest planet in the solar system.",
    "The violin has four strings tuned in perfect fifths.",
    "Bees pollinate many of the crops that humans eat.",
    "The Amazon rainforest produces a large share of the world's oxygen.",
    "A marathon is a long-distance race of about 42 kilometres.",
    "Shakespeare wrote Hamlet around the year 1600.",
    "Electric cars are powered by rechargeable batteries.",
    "The Pacific is the largest and deepest ocean on Earth.",
    "Chess is a strategy game played on an eight by eight board.",
    "Vaccines train the immune system to recognise a virus.",
    "My dog loves to chase tennis balls in the park.",
    "The Mona Lisa hangs in the Louvre museum.",
]
QUERY = "Which planet in our solar system is the biggest?"
ANSWER = 8  # "Jupiter is the largest planet in the solar system."


@pytest.fixture(scope="module")
def client(default_server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=default_server.v1, api_key="unused", max_retries=0, timeout=120)


def reference_embeddings(folder: Path, texts: list[str]) -> np.ndarray:
    """sentence-transformers' recipe in plain transformers: mean pooling over the attention
    mask, then L2 normalization."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_models_lists_the_embedding_model(client: openai.OpenAI) -> None:
    cards = {m.id: m.model_dump() for m in client.models.list().data}
    assert DEFAULT_MODEL in cards and MINILM in cards
    card = cards[MINILM]
    assert card["task"] == "embedding" and card["dimensions"] == 384
    assert card["input_modalities"] == ["text"] and card["context_length"] == 256


def test_sdk_vectors_match_plain_transformers_float_and_base64(client: openai.OpenAI) -> None:
    from tera_serve.default_embedding_model import ensure_embedding_model

    floats = client.embeddings.create(model=MINILM, input=SENTENCES, encoding_format="float")
    # Without encoding_format the SDK asks for base64 and decodes it itself.
    packed = client.embeddings.create(model=MINILM, input=SENTENCES)
    got = np.array([d.embedding for d in floats.data], dtype=np.float32)
    decoded = np.array([d.embedding for d in packed.data], dtype=np.float32)
    assert got.shape == (3, 384) and np.allclose(got, decoded, atol=1e-6)
    reference = reference_embeddings(ensure_embedding_model(), SENTENCES)
    cosines = (got * reference).sum(axis=1) / np.linalg.norm(got, axis=1)
    assert cosines.min() >= 0.999, cosines
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert floats.usage.prompt_tokens == floats.usage.total_tokens > 3 * 5
    assert floats.model == MINILM


def test_token_id_inputs_embed_like_their_text(client: openai.OpenAI) -> None:
    from transformers import AutoTokenizer

    from tera_serve.default_embedding_model import ensure_embedding_model

    ids = AutoTokenizer.from_pretrained(str(ensure_embedding_model()))(SENTENCES[0])["input_ids"]
    by_text = client.embeddings.create(model=MINILM, input=SENTENCES[0], encoding_format="float")
    by_ids = client.embeddings.create(model=MINILM, input=[ids], encoding_format="float")
    assert np.allclose(by_text.data[0].embedding, by_ids.data[0].embedding, atol=1e-5)
    assert by_ids.usage.prompt_tokens == len(ids)


def test_langchain_embeddings_and_a_tiny_retrieval(default_server: LiveServer) -> None:
    from langchain_openai import OpenAIEmbeddings

    # check_embedding_ctx_length=False: send text, not OpenAI's own tiktoken ids.
    embedder = OpenAIEmbeddings(
        model=MINILM,
        base_url=default_server.v1,
        api_key="unused",  # type: ignore[arg-type]
        check_embedding_ctx_length=False,
        max_retries=0,
    )
    documents = np.array(embedder.embed_documents(CORPUS))
    query = np.array(embedder.embed_query(QUERY))
    assert documents.shape == (20, 384) and query.shape == (384,)
    ranking = np.argsort(-(documents @ query))
    assert ranking[0] == ANSWER, [CORPUS[i] for i in ranking[:3]]


def test_rerank_and_score_by_cosine_on_the_embedding_model(default_server: LiveServer) -> None:
    rerank = httpx.post(
        default_server.v1 + "/rerank",
        json={"model": MINILM, "query": QUERY, "documents": CORPUS, "top_n": 3},
        timeout=120,
    )
    assert rerank.status_code == 200, rerank.text
    results = rerank.json()["results"]
    assert len(results) == 3 and results[0]["index"] == ANSWER
    assert results[0]["document"]["text"] == CORPUS[ANSWER]
    score = httpx.post(
        default_server.v1 + "/score",
        json={"model": MINILM, "text_1": QUERY, "text_2": [CORPUS[ANSWER], CORPUS[0]]},
        timeout=120,
    )
    first, second = (d["score"] for d in score.json()["data"])
    assert first == pytest.approx(results[0]["relevance_score"], abs=1e-5) and first > second


def test_bad_requests_are_400s_that_name_the_problem(
    client: openai.OpenAI, default_server: LiveServer
) -> None:
    def refused(**kwargs: object) -> openai.BadRequestError:
        with pytest.raises(openai.BadRequestError) as caught:
            client.embeddings.create(**kwargs)  # type: ignore[call-overload]
        return caught.value

    assert "10000 items" in refused(model=MINILM, input=["x"] * 10_000).message
    assert "window is 256" in refused(model=MINILM, input="word " * 400).message
    assert "vocabulary" in refused(model=MINILM, input=[[1, 40_000]]).message
    assert "Matryoshka" in refused(model=MINILM, input="a", dimensions=64).message
    assert DEFAULT_MODEL in refused(model=DEFAULT_MODEL, input="a").message
    truncated = client.embeddings.create(
        model=MINILM, input="word " * 400, extra_body={"truncate_prompt_tokens": -1}
    )
    assert truncated.usage.prompt_tokens == 256
    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(
            model=MINILM, messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
    assert MINILM in chat.value.message
    nested = httpx.post(
        default_server.v1 + "/embeddings", json={"model": MINILM, "input": [[["a"]]]}, timeout=30
    )
    assert nested.status_code == 400 and nested.json()["error"]["param"] == "input"


def test_metrics_and_log_line_count_pooling_work(
    client: openai.OpenAI, default_server: LiveServer
) -> None:
    client.embeddings.create(model=MINILM, input=["one", "two"])
    metrics = httpx.get(default_server.base_url + "/metrics", timeout=30).text
    assert f'tera_embedding_inputs_total{{endpoint="/v1/embeddings",model="{MINILM}"}}' in metrics
    assert f'tera_embedding_input_tokens_total{{model="{MINILM}"}}' in metrics
    assert "path=/v1/embeddings" in default_server.log_tail(400)


def test_playground_panel_shows_the_similarity_matrix(default_server: LiveServer) -> None:
    import os

    from playwright.sync_api import sync_playwright

    chromium = Path(os.environ.get("TERA_TEST_CHROMIUM", "/usr/bin/chromium"))
    if not chromium.is_file():
        pytest.fail(f"{chromium} is missing: scripts/bootstrap.sh installs Debian's chromium")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.set_default_timeout(60_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(default_server.base_url + "/")
        page.wait_for_selector(f"#model option[value='{MINILM}']", state="attached")
        page.select_option("#model", MINILM)
        assert page.is_visible("#embeddings") and not page.is_visible("#composer")
        assert "384 dimensions" in page.text_content("#model-info")
        page.fill("#embed-input", "\n".join([*SENTENCES[:2], "A kitten naps on the sunny sill."]))
        page.click("#embed-run")
        page.wait_for_selector("table.matrix")
        rows = page.eval_on_selector_all(
            "table.matrix tr",
            "rows => rows.slice(1).map(r => [...r.querySelectorAll('td')].map(c => Number(c.textContent)))",
        )
        assert "3 vectors of 384 dimensions" in page.text_content("#embed-note")
        browser.close()
    assert errors == []
    assert [rows[i][i] for i in range(3)] == [1.0, 1.0, 1.0]
    assert rows[0][2] > rows[0][1] and rows[0][2] == rows[2][0]  # cat ~ kitten, not markets
