"""Frontend CPU per token of two trees, measured interleaved: `benchmarks/frontend.py`
(the real application over the fake engine, one core) run alternately on an earlier
checkout and on this one, so load on a shared box falls on both alike.

    git worktree add /tmp/before <rev>
    .venv/bin/python benchmarks/compare_frontend.py --before /tmp/before --rounds 4

Each run uses this tree's frontend.py with the tree under test first on PYTHONPATH (the
server subprocess inherits it). Writes benchmarks/results/<name>.{md,csv}: per phase and
number of streams, the median server CPU µs per streamed token of each tree, its range,
and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FRONTEND = HERE / "frontend.py"
RESULTS_DIR = HERE / "results"

Key = tuple[str, int]  # phase, streams


def _run_once(tree: Path, args: argparse.Namespace, out_dir: Path) -> dict[Key, float]:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{ROOT}"}
    command = [
        sys.executable,
        str(FRONTEND),
        "--phases",
        *args.phases,
        "--concurrency",
        *map(str, args.concurrency),
        "--duration",
        str(args.duration),
        "--rss-requests",
        "0",
        "--name",
        "run",
        "--results-dir",
        str(out_dir),
    ]
    subprocess.run(command, env=env, check=True, cwd=tree, stdout=subprocess.DEVNULL)
    with (out_dir / "run.csv").open() as handle:
        return {
            (row["phase"], int(row["streams"])): float(row["server_cpu_us_per_token"])
            for row in csv.DictReader(handle)
        }


def measure(args: argparse.Namespace) -> dict[str, dict[Key, list[float]]]:
    trees = {"before": Path(args.before).resolve(), "after": ROOT}
    samples: dict[str, dict[Key, list[float]]] = {name: defaultdict(list) for name in trees}
    with tempfile.TemporaryDirectory() as scratch:
        for round_index in range(args.rounds):
            order = list(trees) if round_index % 2 == 0 else list(reversed(trees))
            for name in order:
                for key, value in _run_once(trees[name], args, Path(scratch)).items():
                    samples[name][key].append(value)
                print(f"round {round_index + 1}/{args.rounds}: {name} done", flush=True)
    return samples


def write_results(
    samples: dict[str, dict[Key, list[float]]], args: argparse.Namespace, command: str
) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    keys = sorted(samples["after"], key=lambda k: (args.phases.index(k[0]), k[1]))
    rows = []
    for key in keys:
        before, after = samples["before"][key], samples["after"][key]
        b, a = statistics.median(before), statistics.median(after)
        rows.append((key, b, min(before), max(before), a, min(after), max(after), a / b))
    with (RESULTS_DIR / f"{args.name}.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phase", "streams", "before_us", "after_us", "ratio"])
        for (phase, streams), b, _, _, a, _, _, ratio in rows:
            writer.writerow([phase, streams, f"{b:.2f}", f"{a:.2f}", f"{ratio:.3f}"])
    lines = [
        f"# {args.title}\n\n",
        f"`{command}`\n\n",
        f"Server CPU µs per streamed token on `benchmarks/frontend.py` (fake engine, one core, "
        f"{args.duration:g} s windows), medians of {args.rounds} interleaved runs per tree "
        f"(min–max in brackets). Before: {args.before_label}. After: this tree. "
        f"{args.note}\n\n",
        "| phase | streams | before µs/token | after µs/token | after / before |\n",
        "|---|---:|---:|---:|---:|\n",
    ]
    for (phase, streams), b, b_lo, b_hi, a, a_lo, a_hi, ratio in rows:
        lines.append(
            f"| {phase} | {streams} | {b:.1f} ({b_lo:.1f}–{b_hi:.1f}) "
            f"| {a:.1f} ({a_lo:.1f}–{a_hi:.1f}) | {ratio:.2f}× |\n"
        )
    path = RESULTS_DIR / f"{args.name}.md"
    path.write_text("".join(lines))
    print("".join(lines))
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="a checkout of the earlier tree")
    parser.add_argument("--before-label", default="the earlier checkout")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--phases", nargs="+", default=["saturated", "messages", "responses"])
    parser.add_argument("--name", default="frontend_compare")
    parser.add_argument("--title", default="Frontend CPU per token, before and after")
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    command = "benchmarks/compare_frontend.py " + " ".join(argv or sys.argv[1:])
    write_results(measure(args), args, command)


if __name__ == "__main__":
    main()
