"""/v1/embeddings: tera-serve beside `vllm serve` on the same model, in one run.

Both servers run all-MiniLM-L6-v2 (the embedded default) on vLLM's pooling runner with the
same engine arguments, one after the other (never both at once). Each is driven by the same
client load:

- throughput: requests of 1, 16 and 128 inputs at a fixed concurrency: embeddings/s and
  input tokens/s (the servers' own `usage.prompt_tokens`);
- latency: one-input requests at concurrency 1 and 32: p50 and p99 milliseconds.

It samples the memory (PSS) of each server's process tree and writes

    benchmarks/results/embeddings.csv   one row per server and phase
    benchmarks/results/embeddings.md    the tables, with tera-serve / vllm serve ratios

    .venv/bin/python benchmarks/embeddings.py
    .venv/bin/python benchmarks/embeddings.py --requests-scale 0.2     # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.live_server import free_port, wait_healthy  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
VLLM_CLI = ROOT / "benchmarks" / "vllm_cli.py"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
ENGINE_ARGS = {"dtype": "float32", "enforce_eager": True}
START_TIMEOUT_S = 420.0
SERVERS = ("tera-serve", "vllm serve")
THROUGHPUT_CONCURRENCY = 8
# (phase, inputs per request, concurrency, requests at scale 1)
PHASES = (
    ("throughput", 1, THROUGHPUT_CONCURRENCY, 400),
    ("throughput", 16, THROUGHPUT_CONCURRENCY, 80),
    ("throughput", 128, THROUGHPUT_CONCURRENCY, 16),
    ("latency", 1, 1, 100),
    ("latency", 1, 32, 400),
)
WORDS = [
    "river", "stone", "market", "quiet", "engine", "garden", "winter", "bright", "signal",
    "paper", "forest", "window", "silver", "orange", "music", "planet", "harbor", "letter",
    "castle", "thunder",
]  # fmt: skip


def sentence(index: int) -> str:
    """A distinct sentence of ~14 words (~18 tokens with [CLS] and [SEP])."""
    words = [WORDS[(index * 7 + k * 3) % len(WORDS)] for k in range(12)]
    return f"Note {index}: " + " ".join(words) + "."


@dataclass
class Row:
    server: str
    phase: str
    batch: int
    concurrency: int
    requests: int
    failed: int
    seconds: float
    embeddings_per_s: float
    tokens_per_s: float
    p50_ms: float
    p99_ms: float


async def _drive(base: str, batch: int, concurrency: int, requests: int) -> Row:
    latencies: list[float] = []
    tokens = 0
    failed = 0
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:

        async def worker() -> None:
            nonlocal tokens, failed
            for n in counter:
                body = {
                    "model": MODEL_ID,
                    "input": [sentence(n * batch + i) for i in range(batch)],
                    "encoding_format": "float",
                }
                started = time.perf_counter()
                try:
                    response = await client.post("/v1/embeddings", json=body)
                except httpx.HTTPError:
                    failed += 1  # counted and reported, not a crash of the whole run
                    continue
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    failed += 1
                    continue
                tokens += int(response.json()["usage"]["prompt_tokens"])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    done = requests - failed
    return Row(
        server="",
        phase="",
        batch=batch,
        concurrency=concurrency,
        requests=requests,
        failed=failed,
        seconds=round(elapsed, 2),
        embeddings_per_s=round(done * batch / elapsed, 1),
        tokens_per_s=round(tokens / elapsed, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 1),
        p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    )


def _children(pid: int) -> list[int]:
    """Children of every thread of `pid` (vLLM's engine starts from a loader thread)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _tree_pss_mb(root: int) -> float:
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        todo += _children(pid)
    return total / 1024


class MemoryWatch:
    """The peak PSS of a process tree, sampled every half second."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, _tree_pss_mb(self.pid))

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _command(server: str, model_dir: Path, port: int, workdir: Path) -> list[str]:
    if server == "tera-serve":
        config = workdir / "embeddings.yaml"
        config.write_text(
            "models:\n"
            f"  - model: {model_dir}\n    task: embedding\n"
            f"    served_model_name: {MODEL_ID}\n"
            "    engine_args: {dtype: float32, enforce_eager: true}\n"
        )
        return [
            sys.executable, "-m", "tera_serve", "--config", str(config), "--port", str(port),
            "--responses-store", ":memory:", "--no-playground",
        ]  # fmt: skip
    return [
        sys.executable, str(VLLM_CLI), "serve", str(model_dir), "--port", str(port),
        "--served-model-name", MODEL_ID, "--runner", "pooling", "--dtype", "float32",
        "--enforce-eager",
    ]  # fmt: skip


@contextlib.contextmanager
def _server(server: str, model_dir: Path, workdir: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {**os.environ, "VLLM_RPC_BASE_PATH": tempfile.mkdtemp(prefix="emb-bench-rpc-")}
    env.setdefault("VLLM_TARGET_DEVICE", "cpu")
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    env.setdefault("VLLM_HOST_IP", "127.0.0.1")
    log = workdir / f"{server.replace(' ', '-')}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _command(server, model_dir, port, workdir),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, log, START_TIMEOUT_S)
        yield base, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def run(model_dir: Path, scale: float) -> tuple[list[Row], dict[str, float]]:
    rows: list[Row] = []
    memory: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="emb-bench-") as tmp:
        for server in SERVERS:
            with _server(server, model_dir, Path(tmp)) as (base, pid), MemoryWatch(pid) as watch:
                asyncio.run(_drive(base, 16, 4, max(4, int(20 * scale))))  # warm-up
                for phase, batch, concurrency, requests in PHASES:
                    count = max(concurrency, int(requests * scale))
                    row = asyncio.run(_drive(base, batch, concurrency, count))
                    row.server, row.phase = server, phase
                    rows.append(row)
                    print(row, file=sys.stderr, flush=True)
            memory[server] = round(watch.peak, 0)
    return rows, memory


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}×" if theirs else "-"


def markdown(rows: list[Row], memory: dict[str, float], note: str) -> str:
    by = {(r.server, r.phase, r.batch, r.concurrency): r for r in rows}
    lines = [
        "# Embeddings: tera-serve beside `vllm serve`",
        "",
        "`benchmarks/embeddings.py`",
        "",
        note,
        "",
        f"## Throughput (concurrency {THROUGHPUT_CONCURRENCY})",
        "",
        "| inputs per request | tera-serve emb/s | vllm serve emb/s | ratio | tera-serve tokens/s "
        "| vllm serve tokens/s | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase, batch, concurrency, _ in PHASES:
        if phase != "throughput":
            continue
        ours, theirs = (
            by[("tera-serve", phase, batch, concurrency)],
            by[("vllm serve", phase, batch, concurrency)],
        )
        lines.append(
            f"| {batch} | {ours.embeddings_per_s} | {theirs.embeddings_per_s} | "
            f"{_ratio(ours.embeddings_per_s, theirs.embeddings_per_s)} | {ours.tokens_per_s} | "
            f"{theirs.tokens_per_s} | {_ratio(ours.tokens_per_s, theirs.tokens_per_s)} |"
        )
    lines += [
        "",
        "## Latency (one input per request)",
        "",
        "| concurrency | tera-serve p50 ms | vllm serve p50 ms | ratio | tera-serve p99 ms "
        "| vllm serve p99 ms |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for phase, batch, concurrency, _ in PHASES:
        if phase != "latency":
            continue
        ours, theirs = (
            by[("tera-serve", phase, batch, concurrency)],
            by[("vllm serve", phase, batch, concurrency)],
        )
        lines.append(
            f"| {concurrency} | {ours.p50_ms} | {theirs.p50_ms} | "
            f"{_ratio(ours.p50_ms, theirs.p50_ms)} | {ours.p99_ms} | {theirs.p99_ms} |"
        )
    failed = sum(r.failed for r in rows)
    lines += [
        "",
        f"Failed requests: {failed}. Peak memory (PSS of the whole process tree): "
        + ", ".join(f"{server} {mb:.0f} MB" for server, mb in memory.items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--requests-scale", type=float, default=1.0)
    parser.add_argument("--name", default="embeddings")
    args = parser.parse_args()
    from tera_serve.default_embedding_model import ensure_embedding_model

    model_dir = args.model_dir or ensure_embedding_model()
    rows, memory = run(model_dir, args.requests_scale)
    load = os.getloadavg()[0]
    note = (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores ({platform.platform()}); a "
        f"shared development box, so numbers are noisy (load average when the run ended: "
        f"{load:.1f}). Model: {MODEL_ID} (float32, eager), the same engine arguments on "
        "both; the servers ran one after the other. Client: httpx, `encoding_format: float`, "
        "distinct ~18-token sentences."
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with (RESULTS_DIR / f"{args.name}.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    (RESULTS_DIR / f"{args.name}.md").write_text(markdown(rows, memory, note))
    print(markdown(rows, memory, note))


if __name__ == "__main__":
    main()
