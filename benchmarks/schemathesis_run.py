"""Schemathesis over the server's own /openapi.json: >= 300 positive and 300 negative cases
per operation, counting 5xx answers and responses that break the published schema.

By default the target is tera-serve's real application stack (its uvicorn server with the
h11 limits, the middlewares, validation, templates, parsers) over the FakeEngine, keys on,
in this process; `--base-url URL --key SECRET` points it at a running server instead.
The suite runs the same checks with 60 cases per operation (tests/unit/security/test_fuzz.py).

    .venv/bin/python benchmarks/schemathesis_run.py            # ~5 min on 2 cores
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    negative_data_rejection,
    response_schema_conformance,
)

from tests.support.fake_app import FAKE_MODEL_ID  # noqa: E402
from tests.unit.security.support import (  # noqa: E402
    bearer,
    is_contract_error,
    make_keys_file,
    threaded_server,
)

RESULTS = ROOT / "benchmarks" / "results"
CHECKS = [not_a_server_error, negative_data_rejection, response_schema_conformance]


@contextlib.contextmanager
def fake_target() -> Iterator[tuple[str, str, str]]:
    from tera_serve.default_model import ensure_default_model

    with tempfile.TemporaryDirectory() as folder:
        keys_path = Path(folder) / "keys.yaml"
        secret = make_keys_file(keys_path, {"fuzzer": {"scopes": ("admin",)}})["fuzzer"]
        with threaded_server(ensure_default_model(), words=4, keys_file=str(keys_path)) as srv:
            yield srv.base_url, secret, FAKE_MODEL_ID


def run(base_url: str, secret: str, model: str, cases: int) -> list[dict[str, Any]]:
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json", headers=bearer(secret))
    rng = random.Random(3)
    rows: list[dict[str, Any]] = []

    def fuzz(operation: Any, mode: GenerationMode) -> dict[str, Any]:
        stats: dict[str, Any] = {
            "operation": f"{operation.method.upper()} {operation.path}",
            "mode": mode.value,
            "cases": 0,
            "statuses": Counter(),
            "server_errors": 0,
            "schema_violations": 0,
            "other_check_failures": 0,
            "examples": [],
        }

        def check(case: Any) -> None:
            body = case.body
            # Half the positive cases name the served model, to reach generation.
            positive = mode is GenerationMode.POSITIVE
            if positive and isinstance(body, dict) and "model" in body and rng.random() < 0.5:
                body["model"] = model
            headers = {**(case.headers or {}), **bearer(secret)}
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            stats["cases"] += 1
            stats["statuses"][response.status_code] += 1
            problem = None
            if response.status_code >= 500:
                stats["server_errors"] += 1
                problem = "5xx"
            elif response.status_code >= 400 and not is_contract_error(response.json()):
                stats["schema_violations"] += 1
                problem = "error shape"
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' check failures
                text = str(exc)
                if "schema" in text.lower() and "conform" in text.lower():
                    stats["schema_violations"] += 1
                elif problem is None:
                    stats["other_check_failures"] += 1
                problem = problem or text.splitlines()[0][:200]
            if problem and len(stats["examples"]) < 3:
                stats["examples"].append(
                    {"problem": problem, "status": response.status_code, "body": str(body)[:300]}
                )

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=cases,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
            phases=[Phase.generate],
        )
        def each(case: Any) -> None:
            check(case)

        with contextlib.suppress(Unsatisfiable):  # nothing to negate on a parameterless GET
            each()
        stats["statuses"] = dict(sorted(stats["statuses"].items()))
        return stats

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            started = time.perf_counter()
            row = fuzz(operation, mode)
            row["seconds"] = round(time.perf_counter() - started, 1)
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def format_row(r: dict[str, Any]) -> str:
    statuses = ", ".join(f"{s}×{n}" for s, n in r["statuses"].items())
    return (
        f"| {r['operation']} | {r['mode']} | {r['cases']} | {statuses} | {r['server_errors']} "
        f"| {r['schema_violations']} | {r['other_check_failures']} | {r['seconds']} |"
    )


HEADER = (
    "| operation | mode | cases | statuses | 5xx | schema violations | other check failures "
    "| s |\n|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300, help="Per operation and mode.")
    parser.add_argument("--base-url", default=None, help="A running server (default: fake).")
    parser.add_argument("--key", default=None, help="Its API key (admin scope for /metrics).")
    parser.add_argument("--model", default=FAKE_MODEL_ID)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    options = parser.parse_args()
    print(HEADER)
    if options.base_url:
        rows = run(options.base_url, options.key or "", options.model, options.cases)
        target = options.base_url
    else:
        with fake_target() as (url, secret, model):
            rows = run(url, secret, model, options.cases)
        target = "the real app stack over the FakeEngine (threaded uvicorn, keys on)"
    totals = {k: sum(r[k] for r in rows) for k in ("cases", "server_errors", "schema_violations")}
    totals["other_check_failures"] = sum(r["other_check_failures"] for r in rows)
    options.results_dir.mkdir(parents=True, exist_ok=True)
    (options.results_dir / "schemathesis.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "# Schemathesis over /openapi.json",
        "",
        f"`.venv/bin/python benchmarks/schemathesis_run.py --cases {options.cases}` on "
        f"{platform.node()}, {time.strftime('%Y-%m-%d')}; target: {target}. Checks: "
        "not_a_server_error, negative_data_rejection, response_schema_conformance, and the "
        "contract's error shape on every 4xx. Parameterless GET operations have no negative "
        "cases to generate.",
        "",
        HEADER,
        *[format_row(r) for r in rows],
        "",
        f"Total: {totals['cases']} cases, {totals['server_errors']} 5xx, "
        f"{totals['schema_violations']} schema violations, "
        f"{totals['other_check_failures']} other check failures.",
        "",
    ]
    (options.results_dir / "schemathesis.md").write_text("\n".join(lines))
    print(lines[-2])


if __name__ == "__main__":
    main()
