"""The real lm-eval harness against the real process: a loglikelihood task through
/v1/completions (echo + prompt logprobs) and a generation task through chat completions.

The full 20-question run and its numbers: benchmarks/lm_eval_run.py, results/lm_eval.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.lm_eval_run import run_tasks
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e


def test_lm_eval_completes_with_plausible_metrics(
    default_server: LiveServer, smollm_dir: Path
) -> None:
    rows = {
        row["task"]: row["metrics"] for row in run_tasks(default_server.base_url, smollm_dir, 8)
    }
    # Four choices per question: chance is 0.25. Greedy decoding, so the numbers are fixed.
    assert 0.25 < rows["tera_capitals_mc"]["acc"] <= 1.0
    assert 0.5 <= rows["tera_capitals_gen"]["exact_match"] <= 1.0
