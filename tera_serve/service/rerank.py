"""POST /v1/rerank and /v1/score, as vLLM serves them, on either kind of pooling model:

- a cross-encoder (`...ForSequenceClassification`, task `classify`) reads each pair as one
  sequence and its classifier's output is the score;
- an embedding model (task `embed`) embeds both sides and the score is their cosine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from tera_serve.config import ServerConfig
from tera_serve.engine.pooling import CLASSIFY, PairInput, PoolingEngine, PoolingInfo, Vector
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.embeddings import RerankRequest, ScoreRequest
from tera_serve.service.embeddings import input_bounds
from tera_serve.service.pooling import Disconnected, cosine, run_inputs
from tera_serve.service.pooling_inputs import (
    TokenList,
    check_count,
    tokenize_inputs,
    tokenize_pairs,
)
from tera_serve.service.pooling_metrics import PoolingObserver
from tera_serve.service.registry import ServedModel


@dataclass(frozen=True)
class PairJob:
    """Texts to score pairwise: `first[i]` against `second[i]`."""

    model: str
    first: list[str]
    second: list[str]
    pairs: list[PairInput] | None
    """Cross-encoder inputs (None: an embedding model)."""
    first_ids: list[TokenList]
    second_ids: list[TokenList]
    """Embedding-model inputs: the distinct first texts, and each second text."""

    @property
    def tokens(self) -> int:
        if self.pairs is not None:
            return sum(len(p.token_ids) for p in self.pairs)
        return sum(len(ids) for ids in self.first_ids) + sum(len(ids) for ids in self.second_ids)


def score_sides(body: ScoreRequest) -> tuple[list[str], list[str]]:
    first = [body.text_1] if isinstance(body.text_1, str) else list(body.text_1)
    second = [body.text_2] if isinstance(body.text_2, str) else list(body.text_2)
    if len(first) not in (1, len(second)):
        raise InvalidRequestError(
            f"`text_1` has {len(first)} texts and `text_2` {len(second)}: give one text_1 for "
            "every text_2, or a single text_1 scored against each.",
            param="text_1",
        )
    return first, second


def prepare_pairs(
    model: str,
    first: list[str],
    second: list[str],
    truncate: int | None,
    served: ServedModel,
    pooling: PoolingInfo,
    server: ServerConfig,
    params: tuple[str, str],
) -> PairJob:
    """Everything that can be a 400, before any engine work (runs in the CPU pool);
    `params` names the two sides (query and documents, or text_1 and text_2)."""
    first_param, param = params
    bounds = input_bounds(served, pooling, server, truncate)
    check_count(len(first), bounds, first_param)
    check_count(len(second), bounds, param)
    for index, text in enumerate(first):
        if text == "":
            where = first_param if len(first) == 1 else f"{first_param}[{index}]"
            raise InvalidRequestError(f"`{where}` must not be an empty string.", param=where)
    if CLASSIFY in pooling.tasks:
        firsts = first * len(second) if len(first) == 1 else first
        pairs = tokenize_pairs(firsts, second, served.tokenizer, bounds, param)
        return PairJob(model, first, second, pairs, [], [])
    first_ids = tokenize_inputs(
        first, served.tokenizer, bounds, first_param, single=len(first) == 1
    )
    second_ids = tokenize_inputs(second, served.tokenizer, bounds, param)
    return PairJob(model, first, second, None, first_ids, second_ids)


def prepare_rerank(
    body: RerankRequest, served: ServedModel, pooling: PoolingInfo, server: ServerConfig
) -> PairJob:
    return prepare_pairs(
        body.model,
        [body.query],
        list(body.documents),
        body.truncate_prompt_tokens,
        served,
        pooling,
        server,
        ("query", "documents"),
    )


def prepare_score(
    body: ScoreRequest, served: ServedModel, pooling: PoolingInfo, server: ServerConfig
) -> PairJob:
    first, second = score_sides(body)
    return prepare_pairs(
        body.model,
        first,
        second,
        body.truncate_prompt_tokens,
        served,
        pooling,
        server,
        ("text_1", "text_2"),
    )


def _pair_score(output: Vector) -> float:
    """A one-label classifier's (activated) output, or the last label's of several."""
    return float(output[-1])


async def run_scores(
    job: PairJob,
    engine: PoolingEngine,
    request_id: str,
    timeout_s: float,
    observer: PoolingObserver,
    disconnected: Disconnected | None = None,
) -> list[float]:
    if job.pairs is not None:
        outputs = await run_inputs(
            job.pairs, engine.classify, request_id, timeout_s, observer, job.tokens, disconnected
        )
        return [_pair_score(output) for output in outputs]
    lists = job.first_ids + job.second_ids
    vectors = await run_inputs(
        lists, engine.embed, request_id, timeout_s, observer, job.tokens, disconnected
    )
    firsts, seconds = vectors[: len(job.first_ids)], vectors[len(job.first_ids) :]
    if len(firsts) == 1:
        return [cosine(firsts[0], v) for v in seconds]
    return [cosine(a, b) for a, b in zip(firsts, seconds, strict=True)]


def _usage(job: PairJob) -> dict[str, int]:
    return {"prompt_tokens": job.tokens, "total_tokens": job.tokens}


def rerank_body(
    job: PairJob, scores: list[float], request_id: str, top_n: int | None, documents: bool
) -> bytes:
    order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    if top_n:
        order = order[:top_n]
    results = []
    for index in order:
        result: dict[str, object] = {"index": index, "relevance_score": scores[index]}
        if documents:
            result["document"] = {"text": job.second[index]}
        results.append(result)
    return orjson.dumps(
        {"id": f"rerank-{request_id}", "model": job.model, "usage": _usage(job), "results": results}
    )


def score_body(job: PairJob, scores: list[float], request_id: str) -> bytes:
    return orjson.dumps(
        {
            "id": f"score-{request_id}",
            "object": "list",
            "created": int(time.time()),
            "model": job.model,
            "data": [
                {"index": index, "object": "score", "score": score}
                for index, score in enumerate(scores)
            ],
            "usage": _usage(job),
        }
    )
