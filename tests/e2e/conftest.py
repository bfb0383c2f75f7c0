"""End-to-end servers: the real `tera-serve` process and real vLLM on the CPU."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import CPU_TEST_ENGINE_ARGS, LiveServer, live_server

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
QWEN = "tera-test/tiny-qwen3"
OSS = "tera-test/tiny-gpt-oss"
QWEN35 = "tera-test/tiny-qwen3.5-vl"


def warm_up(server: LiveServer, model: str) -> None:
    """The first request through a fresh CPU engine pays one-off start-up costs."""
    httpx.post(
        server.v1 + "/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        timeout=120,
    ).raise_for_status()


@pytest.fixture(scope="session")
def default_server(smollm_dir: object) -> Iterator[LiveServer]:
    """`tera-serve` with no --model: the embedded SmolLM2-135M-Instruct."""
    with live_server([], "default") as server:
        warm_up(server, DEFAULT_MODEL)
        yield server


@pytest.fixture(scope="session")
def qwen_server(tiny_qwen3_dir: Path) -> Iterator[LiveServer]:
    """The tiny Qwen3 (reasoning, hermes tools), shared by every protocol's tests."""
    with live_server(
        ["--model", str(tiny_qwen3_dir), "--served-model-name", QWEN, *CPU_TEST_ENGINE_ARGS], "qwen"
    ) as server:
        yield server


@pytest.fixture(scope="session")
def oss_server(tiny_gpt_oss_dir: Path) -> Iterator[LiveServer]:
    """The tiny gpt-oss (harmony), shared by every protocol's tests."""
    with live_server(
        ["--model", str(tiny_gpt_oss_dir), "--served-model-name", OSS, *CPU_TEST_ENGINE_ARGS],
        "gpt-oss",
    ) as server:
        yield server


@pytest.fixture(scope="session")
def vision_server(tiny_qwen35_dir: Path) -> Iterator[LiveServer]:
    """The tiny Qwen3.5 vision model (images, XML tools, template-opened thinking).

    bfloat16: vLLM's CPU Gated-DeltaNet kernel takes no other dtype. Small image bounds,
    so the bad-image tests need no large files.
    """
    with live_server(
        [
            "--model",
            str(tiny_qwen35_dir),
            "--served-model-name",
            QWEN35,
            "--dtype",
            "bfloat16",
            "--enforce-eager",
            "--max-model-len",
            "2048",
            "--max-images-per-request",
            "3",
            "--max-image-pixels",
            "1000000",
            # URLs on for one name that resolves to loopback: the address check must refuse.
            "--allowed-media-domains",
            "localhost",
        ],
        "qwen3.5",
    ) as server:
        yield server
