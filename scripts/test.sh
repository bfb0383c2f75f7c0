#!/usr/bin/env bash
# Command 2: set everything up, then lint, type-check and run the whole test suite
# (unit tests, and end-to-end tests against the real tera-serve process and vLLM on the CPU).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
VENV="${TERA_SERVE_VENV:-.venv}"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
"$VENV/bin/lint-imports" --no-cache
exec "$VENV/bin/python" -m pytest "$@"
