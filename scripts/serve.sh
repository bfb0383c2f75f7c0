#!/usr/bin/env bash
# Command 1: set everything up, then serve the embedded default model on 127.0.0.1:8000.
# Extra arguments go to `tera-serve` (e.g. --port 8080, --model /path/to/hf-folder).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec "${TERA_SERVE_VENV:-.venv}/bin/tera-serve" "$@"
