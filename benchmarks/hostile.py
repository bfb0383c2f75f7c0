"""Hostile clients against the real tera-serve: the worst /health latency under each attack.

Starts `tera-serve` (embedded models, keys configured, the flags of the e2e `hostile_server`),
measures /health while idle, then runs every attack of tests/support/hostile.py,
hostile_bodies.py (the largest Messages, Responses and chat bodies) and hostile_wire.py
(Anthropic error types, HEAD, speech lengths) while a prober GETs /health every 50 ms; then
the same for hostile_images.py on the tiny Qwen3.5 vision model. Reports, per attack: the
statuses it got, how long it took, the slowest /health answer and any /health failure, and
the server's RSS. The e2e hostile modules assert the outcomes; this measures.

    .venv/bin/python benchmarks/hostile.py     # ~5 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.qwen35 import build_tiny_qwen35  # noqa: E402
from tests.support import hostile, hostile_bodies, hostile_images, hostile_wire  # noqa: E402
from tests.support.live_server import VISION_TEST_ENGINE_ARGS, LiveServer, live_server  # noqa: E402
from tests.unit.security.support import make_keys_file  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of the tera-serve process, MB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


Attack = Callable[[hostile.Target], hostile.Outcome]
TEXT_ATTACKS: tuple[Attack, ...] = (
    *hostile.ATTACKS,
    *hostile_bodies.ATTACKS,
    *hostile_wire.ATTACKS,
)
IMAGE_ATTACKS: tuple[Attack, ...] = (hostile_images.extreme_aspect_images,)


def attack_rows(
    server: LiveServer, target: hostile.Target, attacks: tuple[Attack, ...], idle_s: float
) -> list[dict[str, Any]]:
    """The idle row, then one row per attack, all under one /health prober."""
    rows: list[dict[str, Any]] = []
    with hostile.probing(target) as prober:
        time.sleep(idle_s)
        rows.append(row("(idle)", "no attack", [], idle_s, prober, server.process.pid))
        for attack in attacks:
            prober.reset()
            outcome = attack(target)
            time.sleep(0.3)  # the prober's next sample, after the attack ends
            what = " ".join((attack.__doc__ or "").split())
            notes = outcome.notes
            rows.append(
                row(attack.__name__, what, outcome.statuses, outcome.seconds, prober,
                    server.process.pid, notes)
            )  # fmt: skip
            print(format_row(rows[-1]), flush=True)
    rows[0]["unfinished_after"] = server.unfinished_requests()
    return rows


def run(idle_s: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as folder:
        keys_file = Path(folder) / "keys.yaml"
        secrets = make_keys_file(keys_file, hostile.KEY_SPECS)
        args = ["--keys-file", str(keys_file), *hostile.HOSTILE_SERVER_ARGS]
        with live_server(args, "hostile-bench") as server:
            target = hostile.Target(server.base_url, secrets)
            target.post("/v1/chat/completions", hostile.chat(max_tokens=2)).raise_for_status()
            text_rows = attack_rows(server, target, TEXT_ATTACKS, idle_s)
        vision = ["--model", str(build_tiny_qwen35()), "--served-model-name",
                  hostile_images.VISION_MODEL, "--keys-file", str(keys_file),
                  *VISION_TEST_ENGINE_ARGS]  # fmt: skip
        with live_server(vision, "hostile-bench-vision") as server:
            target = hostile.Target(server.base_url, secrets)
            image_rows = attack_rows(server, target, IMAGE_ATTACKS, idle_s)
    return text_rows, image_rows


def row(
    name: str,
    what: str,
    statuses: list[int],
    seconds: float,
    prober: hostile.HealthProber,
    pid: int,
    notes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    rss, hwm = rss_mb(pid)
    return {
        "attack": name,
        "what": what,
        "statuses": dict(sorted(Counter(statuses).items())),
        "seconds": round(seconds, 2),
        "health_worst_ms": round(prober.worst_s * 1000, 1),
        "health_samples": prober.samples,
        "health_failures": prober.failures,
        "rss_mb": round(rss),
        "peak_rss_mb": round(hwm),
        "notes": notes or {},
    }


def format_row(r: dict[str, Any]) -> str:
    statuses = ", ".join(f"{n}×{s}" for s, n in r["statuses"].items()) or "-"
    notes = ", ".join(
        f"{k}={len(v) if isinstance(v, list | dict) else v}"
        for k, v in r["notes"].items()
        if k != "body_bytes"
    )
    return (
        f"| {r['attack']} | {r['what']} | {statuses} | {r['seconds']} | "
        f"{r['health_worst_ms']} | {r['health_failures']} | {r['rss_mb']} / {r['peak_rss_mb']} "
        f"| {notes} |"
    )


HEADER = (
    "| attack | what | statuses | s | worst /health ms | /health failures | RSS / peak MB "
    "| notes |\n|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-s", type=float, default=5.0)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    options = parser.parse_args()
    print(HEADER)
    rows, image_rows = run(options.idle_s)
    worst = max(rows[1:] + image_rows[1:], key=lambda r: r["health_worst_ms"])
    options.results_dir.mkdir(parents=True, exist_ok=True)
    (options.results_dir / "hostile.json").write_text(
        json.dumps({"text": rows, "images": image_rows}, indent=2) + "\n"
    )
    lines = [
        "# Hostile clients: /health latency under attack",
        "",
        f"`.venv/bin/python benchmarks/hostile.py` on {platform.node()} "
        f"({platform.processor() or platform.machine()}), {time.strftime('%Y-%m-%d')}. "
        "The server is the real process (embedded SmolLM2-135M, vLLM CPU engine, keys on, "
        f"flags `{' '.join(hostile.HOSTILE_SERVER_ARGS)}`); /health is probed every 50 ms "
        "throughout each attack. RSS is the tera-serve process (the engine core is separate).",
        "",
        HEADER,
        *[format_row(r) for r in rows],
        "",
        "Images, on the tiny Qwen3.5 vision model (random weights, real processor and "
        f"template; flags `{' '.join(VISION_TEST_ENGINE_ARGS)}`):",
        "",
        HEADER,
        *[format_row(r) for r in image_rows],
        "",
        f"Worst /health latency under attack: **{worst['health_worst_ms']} ms** "
        f"({worst['attack']}); idle: {rows[0]['health_worst_ms']} ms. "
        f"Engine requests unfinished after the run: {rows[0].get('unfinished_after')}.",
        "",
    ]
    (options.results_dir / "hostile.md").write_text("\n".join(lines))
    print(lines[-2])
    print(f"wrote {(options.results_dir / 'hostile.md').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
