"""Speech benchmark: Kokoro-82M behind POST /v1/audio/speech on this machine.

Starts `tera-serve --config <Kokoro only>` (no vLLM engine, so the CPU is the speech
engine's), then streams `pcm` audio at 1 and at 4 concurrent requests and measures, per
request, the time to the first audio byte and the real-time factor (wall time / seconds of
audio; below 1 is faster than real time), plus the aggregate audio seconds produced per
second, and the server's peak RSS. Optionally plots the spectrogram of one response.
Writes benchmarks/results/speech.{md,csv} (and speech_spectrogram.png).

    .venv/bin/python benchmarks/speech.py                 # ~2 min on 2 cores
    .venv/bin/python benchmarks/speech.py --workers 2 --concurrency 1 4 8
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.live_server import free_port, wait_healthy  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
MODEL = "hexgrad/Kokoro-82M"
RATE = 24_000
TEXT = (
    "The lighthouse keeper climbed the stairs at dusk, as he had done for thirty years. "
    "Below him the sea was calm, and the fishing boats were coming home. "
    "He lit the lamp, wrote one line in the log, and watched the first star appear."
)


@dataclass
class Sample:
    concurrency: int
    ttfb_s: float
    wall_s: float
    audio_s: float

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else float("nan")


@dataclass
class Level:
    concurrency: int
    requests: int
    ttfb_p50_s: float
    ttfb_max_s: float
    rtf_p50: float
    rtf_max: float
    audio_s_per_s: float
    """Seconds of audio produced per wall-clock second, all requests together."""


async def one_request(client: httpx.AsyncClient, concurrency: int, text: str) -> Sample:
    body = {"model": MODEL, "input": text, "voice": "af_heart", "response_format": "pcm"}
    started = time.perf_counter()
    first: float | None = None
    size = 0
    async with client.stream("POST", "/v1/audio/speech", json=body) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            if first is None and chunk:
                first = time.perf_counter() - started
            size += len(chunk)
    wall = time.perf_counter() - started
    return Sample(concurrency, first or wall, wall, size / 2 / RATE)


async def run_level(base_url: str, concurrency: int, per_stream: int, text: str) -> list[Sample]:
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:

        async def stream() -> list[Sample]:
            return [await one_request(client, concurrency, text) for _ in range(per_stream)]

        results = await asyncio.gather(*(stream() for _ in range(concurrency)))
    return [s for r in results for s in r]


def summarize(concurrency: int, samples: list[Sample], wall_s: float) -> Level:
    return Level(
        concurrency=concurrency,
        requests=len(samples),
        ttfb_p50_s=statistics.median(s.ttfb_s for s in samples),
        ttfb_max_s=max(s.ttfb_s for s in samples),
        rtf_p50=statistics.median(s.rtf for s in samples),
        rtf_max=max(s.rtf for s in samples),
        audio_s_per_s=sum(s.audio_s for s in samples) / wall_s,
    )


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    """The process's peak (VmHWM) or current (VmRSS) resident memory."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def plot_spectrogram(base_url: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    text = "The capital of France is Paris."
    body = {"model": MODEL, "input": text, "voice": "af_heart", "response_format": "pcm"}
    pcm = httpx.post(base_url + "/v1/audio/speech", json=body, timeout=120).content
    samples = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    figure, axis = plt.subplots(figsize=(9, 3.5))
    axis.specgram(samples, NFFT=512, Fs=RATE, noverlap=384, cmap="magma")
    axis.set(xlabel="seconds", ylabel="Hz", ylim=(0, 8000), title=f"Kokoro-82M, af_heart: {text!r}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_results(levels: list[Level], args: argparse.Namespace, rss: tuple[float, float]) -> Path:
    name = args.name
    with (args.results_dir / f"{name}.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(asdict(levels[0])))
        writer.writeheader()
        writer.writerows(asdict(level) for level in levels)
    rows = "".join(
        f"| {lv.concurrency} | {lv.requests} | {lv.ttfb_p50_s:.2f} | {lv.ttfb_max_s:.2f} "
        f"| {lv.rtf_p50:.2f} | {lv.rtf_max:.2f} | {lv.audio_s_per_s:.2f} |\n"
        for lv in levels
    )
    command = " ".join(["benchmarks/speech.py", *sys.argv[1:]])
    text = (
        "# Speech benchmark (Kokoro-82M int8 ONNX, onnxruntime CPU)\n\n"
        f"`{command}`\n\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} cores ({platform.platform()}); a "
        "shared development box, so numbers are noisy (load average when the run ended: "
        f"{os.getloadavg()[0]:.1f}, the other users included). Speech engine: "
        f"{args.workers} worker(s). Each request streams `pcm` for a {len(args.text)}-character, "
        "three-sentence paragraph (~12 s of audio). RTF = wall time of the request / seconds "
        "of audio (below 1: faster than real time). TTFB = time to the first audio byte.\n\n"
        "| concurrent | requests | TTFB p50 s | TTFB max s | RTF p50 | RTF max "
        "| audio s per s (all) |\n|---:|---:|---:|---:|---:|---:|---:|\n"
        f"{rows}\nServer RSS: {rss[0]:.0f} MB when ready (the CLI imports vLLM and torch even "
        f"for a speech-only config), {rss[1]:.0f} MB at its peak.\n"
    )
    path = args.results_dir / f"{name}.md"
    path.write_text(text)
    return path


def main(argv: Sequence[str] | None = None) -> list[Level]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--requests", type=int, default=4, help="requests per level")
    parser.add_argument("--workers", type=int, default=1, help="speech engine workers")
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--plot", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--name", default="speech")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tera-speech-bench-") as tmp:
        config = Path(tmp) / "speech.yaml"
        config.write_text(
            "models:\n  - model: '@kokoro'\n    task: speech\n"
            f"    served_model_name: {MODEL}\n    engine_args: {{workers: {args.workers}}}\n"
        )
        log = Path(tmp) / "server.log"
        command = [sys.executable, "-m", "tera_serve", "--config", str(config)]
        # No stored responses left in the user's cache.
        command += ["--port", str(port), "--responses-store", ":memory:"]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base_url, process, log, timeout_s=120)
            idle_rss = rss_mb(process.pid, "VmRSS")
            asyncio.run(run_level(base_url, 1, 1, "Warming up."))
            levels = []
            for concurrency in args.concurrency:
                per_stream = max(args.requests // concurrency, 1)
                started = time.perf_counter()
                samples = asyncio.run(run_level(base_url, concurrency, per_stream, args.text))
                levels.append(summarize(concurrency, samples, time.perf_counter() - started))
                print(levels[-1], flush=True)
            if args.plot:
                plot_spectrogram(base_url, args.results_dir / f"{args.name}_spectrogram.png")
            rss = (idle_rss, rss_mb(process.pid))
        finally:
            process.terminate()
            process.wait(30)
    path = write_results(levels, args, rss)
    print(path.read_text())
    return levels


if __name__ == "__main__":
    main()
