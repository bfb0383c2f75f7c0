"""tera-serve beside `vllm serve`: same model, same engine arguments, same load, one run.

For each model, tera-serve starts first and `vllm serve` after it (never both at once),
each with the same engine arguments, the same vLLM environment and the same machine. Each
is driven by vLLM's own load generator, `vllm bench serve` (backend `openai-chat`, endpoint
/v1/chat/completions, random dataset, fixed input/output lengths, `--ignore-eos`), once
per concurrency. The runner reads the JSON that `--save-result` writes and produces

    benchmarks/results/<name>.csv   one row per model, server and concurrency
    benchmarks/results/<name>.md    the tables, with tera-serve / vllm serve ratios
    benchmarks/results/<name>.png   output tokens/s, TTFT, TPOT and ITL per concurrency

It also samples the resident memory of each server's process tree (the HTTP process and
the engine-core processes) and reports the peaks.

    .venv/bin/python benchmarks/side_by_side.py                          # tiny Qwen3 + SmolLM2
    .venv/bin/python benchmarks/side_by_side.py --models tiny-qwen3 --concurrency 1 4

`--models` takes `tiny-qwen3` (the random-weight Qwen3 of the tests), `smollm2` (the
embedded SmolLM2-135M-Instruct) or a model folder. `vllm serve` gets `--reasoning-parser
qwen3` for Qwen3 models, so both servers do the same reasoning parsing per token.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.live_server import free_port, log_tail, wait_healthy  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
VLLM_CLI = ROOT / "benchmarks" / "vllm_cli.py"
SERVERS = ("tera-serve", "vllm serve")
NO_STORE_FILE = ("--responses-store", ":memory:")
"""Benchmarks leave no stored responses in the user's cache."""
ENGINE_ARGS = ("--dtype", "float32", "--enforce-eager", "--max-model-len", "2048")
START_TIMEOUT_S = 420.0

# The columns read from vllm bench's result JSON (with --metric-percentiles 50,99).
METRICS = {
    "output_tokens_per_s": "output_throughput",
    "request_per_s": "request_throughput",
    "ttft_p50_ms": "p50_ttft_ms",
    "ttft_p99_ms": "p99_ttft_ms",
    "tpot_p50_ms": "p50_tpot_ms",
    "tpot_p99_ms": "p99_tpot_ms",
    "itl_p50_ms": "p50_itl_ms",
    "itl_p99_ms": "p99_itl_ms",
}
LOWER_IS_BETTER = ("ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms", "itl_p50_ms")


@dataclass
class Row:
    """One `vllm bench serve` run: a model, a server, a concurrency."""

    model: str
    server: str
    concurrency: int
    prompts: int
    completed: int
    failed: int
    duration_s: float
    output_tokens_per_s: float
    request_per_s: float
    ttft_p50_ms: float
    ttft_p99_ms: float
    tpot_p50_ms: float
    tpot_p99_ms: float
    itl_p50_ms: float
    itl_p99_ms: float
    http_cpu_us_per_token: float = float("nan")
    """CPU time of the server's HTTP process (tera-serve's, or vllm serve's API server: HTTP,
    chat template, detokenization, parsing, SSE) during the run, per output token."""
    engine_cpu_us_per_token: float = float("nan")
    """The same for its engine processes (engine core and workers)."""


@dataclass
class Memory:
    """Peak resident memory of one server's process tree while it was benchmarked."""

    model: str
    server: str
    frontend_peak_mb: float = 0.0
    """The process we started (tera-serve's, or vllm serve's API server)."""
    engine_peak_mb: float = 0.0
    """Its child processes together (vLLM's engine core)."""
    total_peak_mb: float = 0.0
    processes: int = 0


@dataclass
class Options:
    models: tuple[str, ...] = ("tiny-qwen3", "smollm2")
    concurrency: tuple[int, ...] = (1, 4, 16, 64)
    input_len: int = 128
    output_len: int = 64
    prompts_per_stream: int = 4
    min_prompts: int = 32
    max_prompts: int = 256
    name: str = "side_by_side"
    results_dir: Path = RESULTS_DIR
    bench_timeout_s: float = 600.0
    servers: tuple[str, ...] = SERVERS

    def prompts_for(self, concurrency: int) -> int:
        wanted = max(self.min_prompts, self.prompts_per_stream * concurrency)
        return min(self.max_prompts, wanted)


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    machine: str = ""
    command: str = ""
    options: Options = field(default_factory=Options)


# ------------------------------------------------------------------- parsing vllm bench


def row_from_bench_json(result: Mapping[str, Any], *, model: str, server: str, prompts: int) -> Row:
    """A Row from the JSON `vllm bench serve --save-result` writes."""
    values = {column: float(result.get(key) or 0.0) for column, key in METRICS.items()}
    return Row(
        model=model,
        server=server,
        concurrency=int(result.get("max_concurrency") or 0),
        prompts=prompts,
        completed=int(result.get("completed") or 0),
        failed=int(result.get("failed") or 0),
        duration_s=float(result.get("duration") or 0.0),
        **values,
    )


def ratio_rows(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """tera-serve / vllm serve for each model and concurrency both servers ran."""
    by_key = {(r.model, r.server, r.concurrency): r for r in rows}
    out: list[dict[str, Any]] = []
    for row in rows:
        if row.server != SERVERS[0]:
            continue
        other = by_key.get((row.model, SERVERS[1], row.concurrency))
        if other is None:
            continue
        ratios: dict[str, Any] = {"model": row.model, "concurrency": row.concurrency}
        for column in METRICS:
            mine, theirs = getattr(row, column), getattr(other, column)
            ratios[column] = mine / theirs if theirs else float("nan")
        out.append(ratios)
    return out


# ------------------------------------------------------------------- writing results


def _fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def write_csv(results: Results, path: Path) -> None:
    ratios = {(r["model"], r["concurrency"]): r for r in ratio_rows(results.rows)}
    names = [f.name for f in Row.__dataclass_fields__.values()]
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*names, "tera_over_vllm_output_tokens_per_s"])
        for row in results.rows:
            ratio = ratios.get((row.model, row.concurrency))
            shown = f"{ratio['output_tokens_per_s']:.3f}" if ratio else ""
            writer.writerow([*asdict(row).values(), shown])


def markdown(results: Results) -> str:
    options = results.options
    lines = [
        "# tera-serve beside `vllm serve`",
        "",
        f"Command: `{results.command}`",
        "",
        "Same model, same engine arguments (`" + " ".join(ENGINE_ARGS) + "`), same vLLM "
        "environment, one server at a time on the same machine; each driven by `vllm bench "
        "serve --backend openai-chat --endpoint /v1/chat/completions --dataset-name random "
        f"--random-input-len {options.input_len} --random-output-len {options.output_len} "
        "--ignore-eos --max-concurrency C` (prompts per concurrency: "
        f"max({options.min_prompts}, {options.prompts_per_stream}×C), at most "
        f"{options.max_prompts}; min(C, 8) warm-up requests first).",
        "",
        f"Machine: {results.machine}. A shared 2-core box: vLLM's worker (pinned to one core), "
        "its engine-core process (which busy-polls the worker), the HTTP process and the load "
        "generator share two cores. Responses then sometimes arrive in one burst (ITL p50 0, "
        "TTFT close to the whole request, in both servers), and tokens/s varies by 15–20 % "
        "from one run to the next of the same server: read small ratios as equal.",
        "",
        "*HTTP process CPU µs/token*: CPU time of the process that serves HTTP (tera-serve's "
        "one process, or vllm serve's API server; vLLM's output processing and detokenization "
        "run there in both) during the run, warm-up requests included, per output token: the "
        "frontends' own cost, steadier than tokens/s on this box. *Engine CPU*: the same for "
        "the engine-core and worker processes.",
        "",
    ]
    ratios = {(r["model"], r["concurrency"]): r for r in ratio_rows(results.rows)}
    for model in dict.fromkeys(r.model for r in results.rows):
        lines += [
            f"## {model}",
            "",
            "| concurrency | server | output tok/s | TTFT p50 ms | TTFT p99 ms | TPOT p50 ms "
            "| TPOT p99 ms | ITL p50 ms | ITL p99 ms | HTTP process CPU µs/token "
            "| engine CPU µs/token | failed |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in (r for r in results.rows if r.model == model):
            lines.append(
                f"| {row.concurrency} | {row.server} | {_fmt(row.output_tokens_per_s)} "
                f"| {_fmt(row.ttft_p50_ms)} | {_fmt(row.ttft_p99_ms)} "
                f"| {_fmt(row.tpot_p50_ms, 2)} | {_fmt(row.tpot_p99_ms, 2)} "
                f"| {_fmt(row.itl_p50_ms, 2)} | {_fmt(row.itl_p99_ms, 2)} "
                f"| {_fmt(row.http_cpu_us_per_token, 0)} | {_fmt(row.engine_cpu_us_per_token, 0)} "
                f"| {row.failed} |"
            )
        model_ratios = [ratios[k] for k in ratios if k[0] == model]
        if model_ratios:
            lines += [
                "",
                "tera-serve / vllm serve (output tok/s: higher is better; latencies: lower is "
                "better):",
                "",
                "| concurrency | output tok/s | TTFT p50 | TTFT p99 | TPOT p50 | TPOT p99 "
                "| ITL p50 | ITL p99 |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for r in sorted(model_ratios, key=lambda r: r["concurrency"]):
                cells = " | ".join(
                    f"{r[c]:.2f}×"
                    for c in (
                        "output_tokens_per_s",
                        "ttft_p50_ms",
                        "ttft_p99_ms",
                        "tpot_p50_ms",
                        "tpot_p99_ms",
                        "itl_p50_ms",
                        "itl_p99_ms",
                    )
                )
                lines.append(f"| {r['concurrency']} | {cells} |")
        memory = [m for m in results.memory if m.model == model]
        if memory:
            lines += [
                "",
                "| server | peak RSS, HTTP process | peak RSS, engine processes | peak RSS, all |",
                "|---|---:|---:|---:|",
            ]
            lines += [
                f"| {m.server} | {m.frontend_peak_mb:,.0f} MB | {m.engine_peak_mb:,.0f} MB "
                f"| {m.total_peak_mb:,.0f} MB |"
                for m in memory
            ]
        lines.append("")
    return "\n".join(lines) + "\n"


def plot(results: Results, path: Path) -> bool:
    """A PNG: one row per model; tokens/s, TTFT, TPOT and ITL against concurrency."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return False
    models = list(dict.fromkeys(r.model for r in results.rows))
    panels = (
        ("output tokens/s", ("output_tokens_per_s",)),
        ("TTFT ms (p50, p99 dashed)", ("ttft_p50_ms", "ttft_p99_ms")),
        ("TPOT ms (p50, p99 dashed)", ("tpot_p50_ms", "tpot_p99_ms")),
        ("ITL ms (p50, p99 dashed)", ("itl_p50_ms", "itl_p99_ms")),
    )
    figure, axes = plt.subplots(
        len(models), len(panels), figsize=(4.2 * len(panels), 3.4 * len(models)), squeeze=False
    )
    colors = {SERVERS[0]: "tab:blue", SERVERS[1]: "tab:orange"}
    for i, model in enumerate(models):
        for j, (title, columns) in enumerate(panels):
            axis = axes[i][j]
            for server in SERVERS:
                rows = sorted(
                    (r for r in results.rows if r.model == model and r.server == server),
                    key=lambda r: r.concurrency,
                )
                if not rows:
                    continue
                xs = [r.concurrency for r in rows]
                for k, column in enumerate(columns):
                    axis.plot(
                        xs,
                        [getattr(r, column) for r in rows],
                        marker="o",
                        linestyle="-" if k == 0 else "--",
                        color=colors[server],
                        label=server if k == 0 else None,
                    )
            axis.set_xscale("log", base=2)
            ticks = sorted({r.concurrency for r in results.rows if r.model == model})
            axis.set_xticks(ticks, [str(t) for t in ticks])
            axis.set_xlabel("concurrency")
            axis.set_title(f"{model}: {title}", fontsize=9)
            axis.grid(True, alpha=0.3)
            if j == 0:
                axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def read_csv(path: Path) -> list[Row]:
    """The rows of a results CSV (to plot it again)."""
    rows = []
    with path.open() as source:
        for raw in csv.DictReader(source):
            values: dict[str, Any] = {}
            for name, spec in Row.__dataclass_fields__.items():
                kind = {"str": str, "int": int}.get(str(spec.type), float)
                values[name] = kind(raw[name])
            rows.append(Row(**values))
    return rows


def write_results(results: Results) -> list[Path]:
    directory = results.options.results_dir
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / results.options.name
    csv_path, md_path, png_path = (stem.with_suffix(s) for s in (".csv", ".md", ".png"))
    write_csv(results, csv_path)
    md_path.write_text(markdown(results))
    written = [csv_path, md_path]
    if plot(results, png_path):
        written.append(png_path)
    return written


# ------------------------------------------------------------------- running servers


def vllm_environment(rpc_dir: str) -> dict[str, str]:
    """The same engine environment for both servers (tera_serve/runtime_env.py's values)."""
    env = dict(os.environ)
    env.setdefault("VLLM_TARGET_DEVICE", "cpu")
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    env.setdefault("VLLM_HOST_IP", "127.0.0.1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["VLLM_RPC_BASE_PATH"] = rpc_dir
    return env


def resolve_model(name: str) -> tuple[str, Path]:
    """(label, folder) for `tiny-qwen3`, `smollm2` or a model folder."""
    if name == "tiny-qwen3":
        from tests.fixtures.qwen3 import build_tiny_qwen3

        return name, build_tiny_qwen3()
    if name == "smollm2":
        from tera_serve.default_model import ensure_default_model

        return name, ensure_default_model()
    folder = Path(name).expanduser().resolve()
    return folder.name, folder


def is_qwen3(folder: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        config = json.loads((folder / "config.json").read_text())
        return str(config.get("model_type", "")).startswith("qwen3")
    return False


def server_command(server: str, folder: Path, served_id: str, port: int) -> list[str]:
    if server == SERVERS[0]:
        return [
            sys.executable,
            "-m",
            "tera_serve",
            "--port",
            str(port),
            "--model",
            str(folder),
            "--served-model-name",
            served_id,
            *NO_STORE_FILE,
            *ENGINE_ARGS,
        ]
    command = [
        sys.executable,
        str(VLLM_CLI),
        "serve",
        str(folder),
        "--port",
        str(port),
        "--served-model-name",
        served_id,
        *ENGINE_ARGS,
    ]
    if is_qwen3(folder):
        command += ["--reasoning-parser", "qwen3"]
    return command


def tree_cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) used so far by a process and by its descendants."""
    import psutil

    def used(process: Any) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    try:
        root = psutil.Process(pid)
        own = used(root)
        children = root.children(recursive=True)
    except psutil.Error:
        return float("nan"), float("nan")
    engine = 0.0
    for child in children:
        with contextlib.suppress(psutil.Error):
            engine += used(child)
    return own, engine


class TreeSampler:
    """Samples the RSS of a process and its descendants until stopped; keeps the peaks."""

    def __init__(self, pid: int, memory: Memory, interval_s: float = 0.5) -> None:
        self._pid = pid
        self._memory = memory
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self._pid)
            children = root.children(recursive=True)
            main = root.memory_info().rss
        except psutil.Error:
            return
        engine = 0
        for child in children:
            with contextlib.suppress(psutil.Error):
                engine += child.memory_info().rss
        memory = self._memory
        memory.frontend_peak_mb = max(memory.frontend_peak_mb, main / 2**20)
        memory.engine_peak_mb = max(memory.engine_peak_mb, engine / 2**20)
        memory.total_peak_mb = max(memory.total_peak_mb, (main + engine) / 2**20)
        memory.processes = max(memory.processes, 1 + len(children))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(60)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # engine-core children, if any remain
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


@contextlib.contextmanager
def running_server(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = int(command[command.index("--port") + 1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log, START_TIMEOUT_S)
        yield url, process
    finally:
        _stop(process)


def bench_command(
    url: str, served_id: str, folder: Path, concurrency: int, prompts: int, options: Options,
    result_dir: Path, result_file: str,
) -> list[str]:  # fmt: skip
    return [
        sys.executable,
        str(VLLM_CLI),
        "bench",
        "serve",
        "--backend",
        "openai-chat",
        "--endpoint",
        "/v1/chat/completions",
        "--base-url",
        url,
        "--model",
        served_id,
        "--tokenizer",
        str(folder),
        "--dataset-name",
        "random",
        "--random-input-len",
        str(options.input_len),
        "--random-output-len",
        str(options.output_len),
        "--ignore-eos",
        "--max-concurrency",
        str(concurrency),
        "--num-prompts",
        str(prompts),
        "--request-rate",
        "inf",
        "--seed",
        "0",
        "--num-warmups",
        str(min(concurrency, 8)),
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--metric-percentiles",
        "50,99",
        "--disable-tqdm",
        "--save-result",
        "--result-dir",
        str(result_dir),
        "--result-filename",
        result_file,
    ]


def bench_one_server(
    server: str, label: str, folder: Path, options: Options, work: Path, results: Results
) -> None:
    served_id = label
    rpc_dir = tempfile.mkdtemp(prefix="tera-bench-rpc-", dir=work)
    env = vllm_environment(rpc_dir)
    slug = server.replace(" ", "-")
    log = work / f"{label}-{slug}.log"
    command = server_command(server, folder, served_id, free_port())
    memory = Memory(model=label, server=server)
    print(f"[{label}] starting {server}: {shlex.join(command)}", flush=True)
    started = time.monotonic()
    with running_server(command, env, log) as (url, process):
        print(f"[{label}] {server} healthy in {time.monotonic() - started:.0f} s", flush=True)
        with TreeSampler(process.pid, memory):
            for concurrency in options.concurrency:
                prompts = options.prompts_for(concurrency)
                result_file = f"{label}-{slug}-c{concurrency}.json"
                bench = bench_command(
                    url, served_id, folder, concurrency, prompts, options, work, result_file
                )
                bench_log = work / f"{label}-{slug}-c{concurrency}.log"
                http_before, engine_before = tree_cpu_s(process.pid)
                with bench_log.open("wb") as out:
                    code = subprocess.run(
                        bench,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=env,
                        timeout=options.bench_timeout_s,
                        check=False,
                    ).returncode
                if code != 0:
                    raise RuntimeError(f"vllm bench serve failed ({code}):\n{log_tail(bench_log)}")
                http_after, engine_after = tree_cpu_s(process.pid)
                raw = json.loads((work / result_file).read_text())
                row = row_from_bench_json(raw, model=label, server=server, prompts=prompts)
                # The whole run (its warm-up requests too) over the measured output tokens.
                tokens = float(raw.get("total_output_tokens") or 0) or float("nan")
                row.http_cpu_us_per_token = (http_after - http_before) / tokens * 1e6
                row.engine_cpu_us_per_token = (engine_after - engine_before) / tokens * 1e6
                results.rows.append(row)
                print(
                    f"[{label}] {server:10s} c={concurrency:3d}: "
                    f"{row.output_tokens_per_s:8.1f} tok/s, TTFT p50 {row.ttft_p50_ms:8.1f} ms, "
                    f"ITL p50 {row.itl_p50_ms:6.1f} ms p99 {row.itl_p99_ms:6.1f} ms, "
                    f"failed {row.failed}",
                    flush=True,
                )
    results.memory.append(memory)


def run(options: Options, command: str) -> Results:
    results = Results(options=options, command=command)
    results.machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, vllm-cpu {_vllm_version()}"
    )
    work = Path(tempfile.mkdtemp(prefix="tera-side-by-side-"))
    print(f"logs and raw results in {work}", flush=True)
    for name in options.models:
        label, folder = resolve_model(name)
        for server in options.servers:
            bench_one_server(server, label, folder, options, work, results)
    return results


def _vllm_version() -> str:
    import importlib.metadata

    for name in ("vllm-cpu", "vllm"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(name)
    return "?"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--models", nargs="+", default=["tiny-qwen3", "smollm2"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--input-len", type=int, default=128)
    parser.add_argument("--output-len", type=int, default=64)
    parser.add_argument("--prompts-per-stream", type=int, default=4)
    parser.add_argument("--min-prompts", type=int, default=32)
    parser.add_argument("--max-prompts", type=int, default=256)
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument("--name", default="side_by_side")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--replot", action="store_true", help="only redraw <name>.png from <name>.csv"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> Results:
    args = _parse(argv)
    options = Options(
        models=tuple(args.models),
        concurrency=tuple(args.concurrency),
        input_len=args.input_len,
        output_len=args.output_len,
        prompts_per_stream=args.prompts_per_stream,
        min_prompts=args.min_prompts,
        max_prompts=args.max_prompts,
        name=args.name,
        results_dir=args.results_dir,
        servers=tuple(args.servers),
    )
    if args.replot:
        stem = options.results_dir / options.name
        results = Results(rows=read_csv(stem.with_suffix(".csv")), options=options)
        if plot(results, stem.with_suffix(".png")):
            print(f"wrote {stem.with_suffix('.png')}")
        return results
    shown = shlex.join(list(sys.argv[1:] if argv is None else argv))
    command = f".venv/bin/python benchmarks/side_by_side.py {shown}".strip()
    results = run(options, command)
    for path in write_results(results):
        print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
