"""The Engine contract (tests/support/engine_contract.py) on the real vLLM engine: the
embedded SmolLM2 on the CPU, in a process of its own, so what the unit tests assume of the
fake engine is checked against vLLM too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.engine_contract import CONTRACT

ROOT = Path(__file__).resolve().parents[2]
START_BOUND_S = 600
"""A hang bound for starting vLLM and running every check (about a minute here)."""


@pytest.fixture(scope="module")
def vllm_results(smollm_dir: Path) -> dict[str, str]:
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.engine_contract", str(smollm_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=START_BOUND_S,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no results (exit {run.returncode}):\n{run.stderr[-3000:]}"
    results: dict[str, str] = json.loads(lines[-1])
    return results


@pytest.mark.parametrize("check", list(CONTRACT))
def test_vllm_keeps_the_engine_contract(check: str, vllm_results: dict[str, str]) -> None:
    assert vllm_results[check] == "ok", vllm_results[check]
