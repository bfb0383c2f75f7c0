"""benchmarks/api_cpu.py on a tiny matrix: its load generator and CPU reading against the
frontend benchmark's fake-engine server (no vLLM), and its tables on canned cells."""

from __future__ import annotations

import asyncio
import csv
import os
from pathlib import Path

import orjson
import pytest

from benchmarks import api_cpu, frontend


def test_proc_cpu_reads_this_process_and_grows_with_work() -> None:
    before = api_cpu.proc_cpu_s(os.getpid())
    deadline = before + 0.05
    while api_cpu.proc_cpu_s(os.getpid()) < deadline:
        sum(range(10_000))
    assert api_cpu.proc_cpu_s(os.getpid()) >= deadline
    assert api_cpu.proc_cpu_s(2**22 + 7) != api_cpu.proc_cpu_s(2**22 + 7)  # gone: nan


@pytest.mark.parametrize(
    ("payload", "tokens"),
    [
        ({"usage": {"completion_tokens": 16, "prompt_tokens": 60}}, 16),
        ({"usage": {"output_tokens": 7}}, 7),
        ({"type": "response.completed", "response": {"usage": {"output_tokens": 5}}}, 5),
        ({"type": "response.created", "response": {"usage": None}}, None),
        ({"choices": [], "usage": None}, None),
    ],
)
def test_usage_tokens_of_every_protocol(payload: dict[str, object], tokens: int | None) -> None:
    assert api_cpu.usage_tokens(payload) == tokens
    event = b"event: x\ndata: " + orjson.dumps(payload)
    assert api_cpu.sse_usage_tokens(event) == tokens


def test_cells_have_at_least_one_prompt_per_stream_and_differ() -> None:
    options = api_cpu.Options(token_budget=512, min_prompts=4)
    cells = {(c.protocol, c.stream, c.output_len, c.concurrency): c for c in options.cells()}
    assert len(cells) == 3 * 2 * 2 * 2
    assert cells[("chat", True, 16, 1)].prompts == 32
    assert cells[("chat", True, 128, 1)].prompts == 4
    assert cells[("chat", False, 128, 64)].prompts == 64
    assert api_cpu.prompt_text(1) != api_cpu.prompt_text(2)


def test_measures_every_protocol_and_mode_against_a_live_server(
    smollm_dir: Path, tmp_path: Path
) -> None:
    options = api_cpu.Options(
        servers=("tera-serve",),
        output_lens=(4,),
        concurrency=(1, 3),
        token_budget=8,
        min_prompts=2,
        warmup_requests=1,
        name="api-cpu-test",
        results_dir=tmp_path,
    )
    server_options = frontend.Options(server_cpu=min(os.sched_getaffinity(0)))
    with frontend.bench_server(server_options, str(smollm_dir)) as (url, pid):
        note = api_cpu.ServerNote(model="fake", server="tera-serve")
        results = asyncio.run(
            api_cpu.measure_server(url, pid, frontend.MODEL_ID, "tera-serve", options, note)
        )
    assert len(results) == 3 * 2 * 2
    for result in results:
        assert result.failed == 0 and result.requests == max(2, result.concurrency)
        assert result.output_tokens == 4 * result.requests
        assert result.api_cpu_s >= 0 and result.engine_cpu_s == 0  # the fake engine is in-process
    report = api_cpu.Report(options=options, command="api_cpu.py --test", results=results)
    report.notes.append(note)
    csv_path, md_path = api_cpu.write_results(report)
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 12 and {row["protocol"] for row in rows} == set(api_cpu.PROTOCOLS)
    assert "| responses | plain | 4 | 3 | tera-serve | 3 | 0 |" in md_path.read_text()


def _cell(server: str, per_request: float, per_token: float, tps: float) -> api_cpu.CellResult:
    return api_cpu.CellResult(
        model="tiny", server=server, protocol="chat", stream=True, output_len=128,
        concurrency=64, requests=64, failed=0, output_tokens=8192, wall_s=10.0,
        api_cpu_s=1.0, engine_cpu_s=20.0, api_cpu_us_per_request=per_request,
        api_cpu_us_per_token=per_token, engine_cpu_us_per_token=2_000.0,
        output_tokens_per_s=tps, requests_per_s=6.4,
    )  # fmt: skip


def test_ratios_and_goals_compare_tera_with_vllm_cell_by_cell() -> None:
    results = [
        _cell("tera-serve", 9_000.0, 60.0, 800.0),
        _cell("vllm serve", 10_000.0, 80.0, 760.0),
    ]
    (ratio,) = api_cpu.ratios(results).values()
    assert ratio["api_cpu_us_per_token"] == pytest.approx(0.75)
    assert ratio["output_tokens_per_s"] == pytest.approx(800 / 760)
    goals = "\n".join(api_cpu.goal_lines(results))
    assert "per output token tera / vllm = **0.75×** (goal ≤ 0.7×: NOT met)" in goals
    assert "output tokens/s tera / vllm = **1.05×** (goal ≥ 1.0×: met)" in goals
