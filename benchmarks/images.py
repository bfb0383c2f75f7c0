"""Image-input benchmark: image requests per second and the frontend CPU spent per image.

Starts the real `tera-serve` on the tiny Qwen3.5 vision model (vLLM on the CPU; build it
with `python -m tests.fixtures.qwen35`), then for each image size sends chat requests with
one PNG data URI and `max_tokens: 1` at each concurrency, and the same requests without
the image. It reports:

- **requests/s** with the image, and without it (the engine's share is in both);
- **frontend CPU ms per image**: the HTTP process's own CPU time (user + system, not the
  engine-core process) per image request, minus the same for the text-only request. That
  is what an image costs the process that also runs the event loop: base64, decoding,
  the token count, and vLLM's image processor, which runs in that process;
- **p50 / p99 latency** of the image requests.

    .venv/bin/python benchmarks/images.py                  # ~3 minutes on 2 cores
    .venv/bin/python benchmarks/images.py --requests 16 --concurrency 1 --sizes 96x64

writes benchmarks/results/images.{md,csv}.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.side_by_side import tree_cpu_s  # noqa: E402
from tests.support.images import data_uri  # noqa: E402
from tests.support.live_server import LiveServer, live_server  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
MODEL_ID = "bench/tiny-qwen3.5-vl"
QUESTION = "Describe this picture in one word."


@dataclass(frozen=True)
class Options:
    sizes: tuple[tuple[int, int], ...] = ((96, 64), (512, 512), (1280, 960))
    concurrency: tuple[int, ...] = (1, 4)
    requests: int = 48
    model_dir: str | None = None
    results_dir: Path = RESULTS_DIR


@dataclass
class Row:
    size: str
    image_kb: float
    image_tokens: int
    concurrency: int
    requests: int
    errors: int
    image_rps: float
    text_rps: float
    frontend_cpu_ms_per_image: float
    """HTTP-process CPU per image request minus per text-only request."""
    image_p50_ms: float
    image_p99_ms: float


def photo_like_png(width: int, height: int) -> bytes:
    """A PNG with a photo's entropy (noise over gradients), so decoding costs what it would."""
    import io

    from PIL import Image

    channels = [Image.effect_noise((width, height), sigma) for sigma in (40, 60, 80)]
    picture = Image.merge("RGB", channels)
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    picture = Image.blend(picture, gradient, 0.5)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _body(image: bytes | None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": QUESTION}]
    if image is not None:
        content.insert(0, {"type": "image_url", "image_url": {"url": data_uri(image)}})
    return {
        "model": MODEL_ID,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 1,
        "temperature": 0,
        "reasoning_effort": "none",
    }


@dataclass
class _Load:
    seconds: float
    cpu_s: float
    latencies_ms: list[float]
    errors: int
    prompt_tokens: int


async def _load(server: LiveServer, body: dict[str, Any], requests: int, streams: int) -> _Load:
    latencies: list[float] = []
    errors = 0
    prompt_tokens = 0
    queue = list(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, prompt_tokens
        while queue:
            queue.pop()
            started = time.perf_counter()
            response = await client.post(server.v1 + "/chat/completions", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors += 1
            else:
                prompt_tokens = int(response.json()["usage"]["prompt_tokens"])

    async with httpx.AsyncClient(timeout=300) as client:
        await client.post(server.v1 + "/chat/completions", json=body)  # warm-up
        cpu_before, _ = tree_cpu_s(server.process.pid)
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(streams)))
        seconds = time.perf_counter() - started
        cpu_after, _ = tree_cpu_s(server.process.pid)
    return _Load(seconds, cpu_after - cpu_before, latencies, errors, prompt_tokens)


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(server: LiveServer, options: Options) -> list[Row]:
    rows: list[Row] = []
    text_prompt_tokens: int | None = None
    for width, height in options.sizes:
        image = photo_like_png(width, height)
        for streams in options.concurrency:
            with_image = asyncio.run(_load(server, _body(image), options.requests, streams))
            text_only = asyncio.run(_load(server, _body(None), options.requests, streams))
            text_prompt_tokens = text_only.prompt_tokens
            rows.append(
                Row(
                    size=f"{width}x{height}",
                    image_kb=len(image) / 1024,
                    # <|vision_start|> and <|vision_end|> come with each image.
                    image_tokens=with_image.prompt_tokens - (text_prompt_tokens or 0) - 2,
                    concurrency=streams,
                    requests=options.requests,
                    errors=with_image.errors + text_only.errors,
                    image_rps=options.requests / with_image.seconds,
                    text_rps=options.requests / text_only.seconds,
                    frontend_cpu_ms_per_image=(with_image.cpu_s - text_only.cpu_s)
                    * 1000
                    / options.requests,
                    image_p50_ms=statistics.median(with_image.latencies_ms),
                    image_p99_ms=_percentile(with_image.latencies_ms, 0.99),
                )
            )
            print(rows[-1], flush=True)
    return rows


def server_args(model_dir: str) -> list[str]:
    # bfloat16: vLLM's CPU Gated-DeltaNet kernel takes no other dtype.
    return [
        "--model",
        model_dir,
        "--served-model-name",
        MODEL_ID,
        "--dtype",
        "bfloat16",
        "--enforce-eager",
        "--max-model-len",
        "2048",
        "--no-playground",
    ]


def markdown(rows: Sequence[Row], command: str) -> str:
    lines = [
        "# Image inputs: requests/s and frontend CPU per image",
        "",
        f"`{command}` on {platform.node()} ({os.cpu_count()} cores), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Tiny Qwen3.5 vision model, "
        "vLLM on the CPU, one photo-like PNG data URI per request, `max_tokens: 1`. Frontend "
        "CPU: the HTTP process's CPU per image request minus per text-only request (the "
        "engine-core process is not counted; vLLM's image processor runs in the HTTP process "
        "and is).",
        "",
        "| image | PNG KB | image tokens | concurrency | image req/s | text req/s "
        "| frontend CPU ms/image | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.size} | {r.image_kb:.1f} | {r.image_tokens} | {r.concurrency} "
            f"| {r.image_rps:.1f} | {r.text_rps:.1f} | {r.frontend_cpu_ms_per_image:.1f} "
            f"| {r.image_p50_ms:.0f} | {r.image_p99_ms:.0f} | {r.errors} |"
        )
    return "\n".join(lines) + "\n"


def write_results(rows: Sequence[Row], command: str, results_dir: Path) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = results_dir / "images.csv", results_dir / "images.md"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    md_path.write_text(markdown(rows, command))
    return csv_path, md_path


def run(options: Options, command: str) -> list[Row]:
    model_dir = options.model_dir
    if model_dir is None:
        from tests.fixtures.qwen35 import build_tiny_qwen35

        model_dir = str(build_tiny_qwen35())
    # live_server keeps stored responses in a temporary file, nothing in the user's cache.
    with live_server(server_args(model_dir), "bench-images") as server:
        rows = measure(server, options)
    write_results(rows, command, options.results_dir)
    return rows


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main(argv: Sequence[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=_size, default=list(Options.sizes))
    parser.add_argument("--concurrency", nargs="+", type=int, default=list(Options.concurrency))
    parser.add_argument("--requests", type=int, default=Options.requests)
    parser.add_argument("--model-dir", default=None)
    args = parser.parse_args(argv)
    options = Options(
        sizes=tuple(args.sizes),
        concurrency=tuple(args.concurrency),
        requests=args.requests,
        model_dir=args.model_dir,
    )
    command = "benchmarks/images.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows = run(options, command.strip())
    print(markdown(rows, command))
    return rows


if __name__ == "__main__":
    main()
