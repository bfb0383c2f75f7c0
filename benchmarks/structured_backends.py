"""Structured-output backends side by side: grammar compile time and per-token cost.

For each guided-decoding backend (xgrammar, guidance, outlines) one tera-serve runs the
tiny Qwen3 test model with `--structured-output-backend NAME` (one server at a time), and
over the schemas of tests/support/schemas.py this measures:

- **compile**: time to first token of a request with a schema the server has not seen
  (median over three variants, each with one more optional property: the backends cache
  compiled grammars, so a new title alone would hit the cache), minus the median of three
  repeats of the same schema (the grammar then comes from the cache). The backend's first
  use ever (its tokenizer tables) is measured apart, with a throwaway schema;
- **per-token cost**: whole request time / tokens for cached-grammar requests one at a
  time, and tokens/s of 8 at once, each beside the same prompt generating as many tokens
  without a constraint (`ignore_eos`): the ratio is the cost of computing and applying the
  grammar's token masks (and, for short JSON answers, of the prefill they share).

Thinking is off (`enable_thinking: false`) so the grammar applies from the first token.
outlines does not enforce `minimum`/`maximum` and tera-serve refuses such schemas with a
400 on an outlines server, so for outlines those keywords are stripped from the schemas.

    .venv/bin/python benchmarks/structured_backends.py     # ~5 minutes on 2 cores

writes benchmarks/results/structured_backends.{md,csv}.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.side_by_side import (  # noqa: E402
    ENGINE_ARGS,
    resolve_model,
    running_server,
    vllm_environment,
)
from tests.support.live_server import free_port  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
BACKENDS = ("xgrammar", "guidance", "outlines")
MODEL_ID = "tiny-qwen3"
NO_THINKING = {"enable_thinking": False}
BOUND_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
WARM_SCHEMA = {
    "type": "object",
    "properties": {"warm": {"type": "boolean"}},
    "required": ["warm"],
    "additionalProperties": False,
}


@dataclass
class Reply:
    ttft_ms: float
    e2e_ms: float
    tokens: int
    content: str


@dataclass
class SchemaRow:
    backend: str
    schema: str
    first_ttft_ms: float
    repeat_ttft_ms: float
    compile_ms: float
    tokens: int
    """Median completion tokens of the constrained requests (the baseline generates as many)."""
    ms_per_token_c1: float
    """Cached-grammar requests one at a time: whole request time / tokens."""
    plain_ms_per_token_c1: float
    """The same prompt and token count without a constraint."""
    tokens_per_s_batch: float
    """`batch` constrained requests at once: their tokens / wall time (median of repeats)."""
    plain_tokens_per_s_batch: float
    valid: int
    requests: int


@dataclass
class BackendResult:
    backend: str
    first_use_ms: float = 0.0
    """TTFT of the very first constrained request (backend set-up) minus a repeat's."""
    rows: list[SchemaRow] = field(default_factory=list)
    stripped: bool = False


@dataclass
class Options:
    backends: tuple[str, ...] = BACKENDS
    repeats: int = 3
    variants: int = 3
    batch: int = 8
    max_tokens: int = 200
    schemas: tuple[str, ...] | None = None
    name: str = "structured_backends"
    results_dir: Path = RESULTS_DIR


def strip_keywords(schema: Any, keywords: Sequence[str]) -> Any:
    """A copy of `schema` without `keywords` anywhere (property names are kept)."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                out[key] = {k: strip_keywords(v, keywords) for k, v in value.items()}
            elif key not in keywords:
                out[key] = strip_keywords(value, keywords)
        return out
    if isinstance(schema, list):
        return [strip_keywords(v, keywords) for v in schema]
    return schema


def with_optional_property(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """`schema` with one more optional boolean property: the same shape, a new grammar."""
    properties = {**schema.get("properties", {}), name: {"type": "boolean"}}
    return {**schema, "properties": properties}


def _body(name: str, schema: dict[str, Any] | None, seed: int, max_tokens: int) -> dict[str, Any]:
    """A streamed chat request; without a schema it generates exactly `max_tokens`."""
    body: dict[str, Any] = {
        "model": MODEL_ID,
        "messages": [{"role": "user", "content": f"Give me a {name} object."}],
        "seed": seed,
        "temperature": 1.0,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "chat_template_kwargs": NO_THINKING,
    }
    if schema is None:
        body["ignore_eos"] = True
    else:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
    return body


async def _stream(client: Any, body: dict[str, Any]) -> Reply:
    import orjson

    started = time.perf_counter()
    first = 0.0
    tokens = 0
    content: list[str] = []
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {(await response.aread())[:300]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = orjson.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(str(chunk["error"]))
            if chunk.get("usage"):
                tokens = int(chunk["usage"]["completion_tokens"])
            for choice in chunk.get("choices", ()):
                text = choice["delta"].get("content")
                if text:
                    now = time.perf_counter()
                    first = first or now
                    content.append(text)
    ended = time.perf_counter()
    ttft = (first - started) * 1000 if first else float("nan")
    return Reply(
        ttft_ms=ttft, e2e_ms=(ended - started) * 1000, tokens=tokens, content="".join(content)
    )


def _median(values: Sequence[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


def _valid(schema: dict[str, Any] | None, content: str) -> bool:
    import json

    import jsonschema

    if schema is None:
        return True
    try:
        jsonschema.validate(json.loads(content), schema)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


async def _batch(
    client: Any, name: str, schema: dict[str, Any] | None, seed: int, max_tokens: int, n: int
) -> tuple[list[Reply], float]:
    """`n` requests at once: the replies and their tokens per second of wall time."""
    started = time.perf_counter()
    replies = await asyncio.gather(
        *(_stream(client, _body(name, schema, seed + i, max_tokens)) for i in range(n))
    )
    wall = time.perf_counter() - started
    return list(replies), sum(r.tokens for r in replies) / wall


async def _measure(
    client: Any, backend: str, name: str, schema: dict[str, Any], options: Options, seed: int
) -> SchemaRow:
    limit = options.max_tokens
    # Compile: `variants` schemas the server has not seen, then the last one again and again
    # (its grammar is cached). The backends cache compiled grammars, not schema texts, so
    # each variant gets one more optional property (a new grammar of about the same size).
    firsts = []
    for variant in range(options.variants):
        schema = with_optional_property(schema, f"v{variant}_{name}")
        firsts.append(await _stream(client, _body(name, schema, seed + 50 + variant, limit)))
    repeats = [
        await _stream(client, _body(name, schema, seed + 1 + i, limit))
        for i in range(options.repeats)
    ]
    batch: list[Reply] = []
    batch_tps: list[float] = []
    for i in range(options.repeats):
        replies, tps = await _batch(
            client, name, schema, seed + 100 * (i + 1), limit, options.batch
        )
        batch += replies
        batch_tps.append(tps)
    replies = [*firsts, *repeats, *batch]
    tokens = max(1, round(_median([float(r.tokens) for r in replies])))
    # The baseline: the same prompt, as many tokens, no constraint.
    plain = [
        await _stream(client, _body(name, None, seed + 1 + i, tokens))
        for i in range(options.repeats)
    ]
    plain_tps = [
        (await _batch(client, name, None, seed + 100 * (i + 1), tokens, options.batch))[1]
        for i in range(options.repeats)
    ]
    repeat_ttft = _median([r.ttft_ms for r in repeats])
    first_ttft = _median([r.ttft_ms for r in firsts])
    return SchemaRow(
        backend=backend,
        schema=name,
        first_ttft_ms=first_ttft,
        repeat_ttft_ms=repeat_ttft,
        compile_ms=first_ttft - repeat_ttft,
        tokens=tokens,
        ms_per_token_c1=_median([r.e2e_ms / r.tokens for r in repeats if r.tokens]),
        plain_ms_per_token_c1=_median([r.e2e_ms / r.tokens for r in plain if r.tokens]),
        tokens_per_s_batch=_median(batch_tps),
        plain_tokens_per_s_batch=_median(plain_tps),
        valid=sum(_valid(schema, r.content) for r in replies),
        requests=len(replies),
    )


async def _bench_backend(url: str, backend: str, options: Options) -> BackendResult:
    import httpx

    from tests.support.schemas import SCHEMAS

    result = BackendResult(backend=backend, stripped=backend == "outlines")
    names = options.schemas or tuple(SCHEMAS)
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        # Warm the engine (first batch shapes) before anything is timed.
        for i in range(2):
            await _stream(client, _body("warm-up", None, i, 32))
        await _batch(client, "warm-up", None, 10, 32, options.batch)
        first_use = await _stream(client, _body("warm", WARM_SCHEMA, 1, options.max_tokens))
        again = [
            await _stream(client, _body("warm", WARM_SCHEMA, 2 + i, options.max_tokens))
            for i in range(options.repeats)
        ]
        result.first_use_ms = first_use.ttft_ms - _median([r.ttft_ms for r in again])
        for index, name in enumerate(names):
            schema = SCHEMAS[name]
            if result.stripped:
                schema = strip_keywords(schema, BOUND_KEYWORDS)
            row = await _measure(client, backend, name, schema, options, 1000 * (index + 1))
            result.rows.append(row)
            print(
                f"[{backend}] {name:17s} compile {row.compile_ms:7.1f} ms; "
                f"{row.ms_per_token_c1:5.2f} ms/token vs {row.plain_ms_per_token_c1:5.2f} "
                f"unconstrained (c=1); {row.tokens_per_s_batch:6.0f} vs "
                f"{row.plain_tokens_per_s_batch:6.0f} tokens/s (c={options.batch}); "
                f"{row.valid}/{row.requests} valid",
                flush=True,
            )
    return result


def run(options: Options, folder: Path) -> list[BackendResult]:
    results = []
    work = Path(tempfile.mkdtemp(prefix="tera-structured-"))
    print(f"server logs in {work}", flush=True)
    for backend in options.backends:
        command = [
            sys.executable,
            "-m",
            "tera_serve",
            "--port",
            str(free_port()),
            "--model",
            str(folder),
            "--served-model-name",
            MODEL_ID,
            "--structured-output-backend",
            backend,
            "--responses-store",
            ":memory:",  # benchmarks leave no stored responses in the user's cache
            *ENGINE_ARGS,
        ]
        env = vllm_environment(tempfile.mkdtemp(prefix="rpc-", dir=work))
        print(f"[{backend}] starting: {shlex.join(command)}", flush=True)
        with running_server(command, env, work / f"{backend}.log") as (url, _process):
            results.append(asyncio.run(_bench_backend(url, backend, options)))
    return results


# ------------------------------------------------------------------- results


def _fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def summary(result: BackendResult) -> dict[str, float]:
    rows = result.rows
    return {
        "first_use_ms": result.first_use_ms,
        "compile_median_ms": _median([r.compile_ms for r in rows]),
        "compile_max_ms": max((r.compile_ms for r in rows), default=float("nan")),
        "repeat_ttft_ms": _median([r.repeat_ttft_ms for r in rows]),
        "ms_per_token_c1": _median([r.ms_per_token_c1 for r in rows]),
        "plain_ms_per_token_c1": _median([r.plain_ms_per_token_c1 for r in rows]),
        "overhead_c1": _median([_ratio(r.ms_per_token_c1, r.plain_ms_per_token_c1) for r in rows]),
        "tokens_per_s_batch": _median([r.tokens_per_s_batch for r in rows]),
        "plain_tokens_per_s_batch": _median([r.plain_tokens_per_s_batch for r in rows]),
        "batch_ratio": _median(
            [_ratio(r.tokens_per_s_batch, r.plain_tokens_per_s_batch) for r in rows]
        ),
        "valid": sum(r.valid for r in rows),
        "requests": sum(r.requests for r in rows),
    }


def write_results(results: list[BackendResult], options: Options, command: str) -> list[Path]:
    options.results_dir.mkdir(parents=True, exist_ok=True)
    csv_path = options.results_dir / f"{options.name}.csv"
    md_path = options.results_dir / f"{options.name}.md"
    with csv_path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*SchemaRow.__dataclass_fields__, "keywords_stripped"])
        for result in results:
            for row in result.rows:
                writer.writerow([*asdict(row).values(), result.stripped])
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    batch = options.batch
    lines = [
        "# Structured-output backends (tiny Qwen3, CPU)",
        "",
        f"Command: `{command}`",
        "",
        "One tera-serve per backend (`--structured-output-backend NAME`, engine args `"
        + " ".join(ENGINE_ARGS)
        + "`), thinking off, the schemas of tests/support/schemas.py. **Compile** = median TTFT of "
        f"{options.variants} requests each with a new schema (one more optional property each) − "
        f"median TTFT of {options.repeats} repeats "
        "(grammar cached); **first use** = the same for the backend's very first schema "
        "(its tokenizer tables). **Per token** = whole request time / tokens for cached-grammar "
        "requests one at a time, beside the same prompt and token count without a constraint "
        f"(`ignore_eos`); **c={batch}** = {batch} such requests at once, tokens per second of "
        "wall time. outlines: `minimum`/`maximum` stripped (outlines does not enforce them, so "
        "tera-serve answers 400 for them on an outlines server).",
        "",
        f"Machine: {machine}; a shared 2-core box, so numbers are noisy (a few ms).",
        "",
        "| backend | first use ms | compile ms, median (max) | TTFT, cached ms "
        "| ms/token c=1: constrained / none | tokens/s "
        f"c={batch}: constrained / none | valid JSON |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        s = summary(result)
        lines.append(
            f"| {result.backend} | {_fmt(s['first_use_ms'], 0)} "
            f"| {_fmt(s['compile_median_ms'], 1)} ({_fmt(s['compile_max_ms'], 0)}) "
            f"| {_fmt(s['repeat_ttft_ms'], 1)} "
            f"| {_fmt(s['ms_per_token_c1'], 2)} / {_fmt(s['plain_ms_per_token_c1'], 2)} "
            f"({s['overhead_c1']:.2f}×) "
            f"| {_fmt(s['tokens_per_s_batch'], 0)} / {_fmt(s['plain_tokens_per_s_batch'], 0)} "
            f"({s['batch_ratio']:.2f}×) | {s['valid']}/{s['requests']} |"
        )
    lines += [
        "",
        "## Per schema",
        "",
        "| backend | schema | new-schema TTFT ms | cached TTFT ms | compile ms | tokens "
        f"| ms/token c=1 (none) | tokens/s c={batch} (none) | valid |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for row in result.rows:
            lines.append(
                f"| {row.backend} | {row.schema} | {_fmt(row.first_ttft_ms)} "
                f"| {_fmt(row.repeat_ttft_ms)} | {_fmt(row.compile_ms)} | {row.tokens} "
                f"| {_fmt(row.ms_per_token_c1, 2)} ({_fmt(row.plain_ms_per_token_c1, 2)}) "
                f"| {_fmt(row.tokens_per_s_batch, 0)} ({_fmt(row.plain_tokens_per_s_batch, 0)}) "
                f"| {row.valid}/{row.requests} |"
            )
    md_path.write_text("\n".join(lines) + "\n")
    return [csv_path, md_path]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--schemas", nargs="+", help="names from tests/support/schemas.py")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", type=int, default=3, help="new schemas per schema")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--name", default="structured_backends")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[BackendResult]:
    args = _parse(argv)
    options = Options(
        backends=tuple(args.backends),
        repeats=args.repeats,
        variants=args.variants,
        batch=args.batch,
        schemas=tuple(args.schemas) if args.schemas else None,
        name=args.name,
        results_dir=args.results_dir,
    )
    _, folder = resolve_model("tiny-qwen3")
    results = run(options, folder)
    shown = shlex.join(list(sys.argv[1:] if argv is None else argv))
    command = f".venv/bin/python benchmarks/structured_backends.py {shown}".strip()
    for path in write_results(results, options, command):
        print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
