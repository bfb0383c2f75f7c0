"""Shared fixtures: the embedded default model folder (converted once, cached)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.support.memory_watch"]


@pytest.fixture(scope="session")
def smollm_dir() -> Path:
    from tera_serve.default_model import ensure_default_model

    return ensure_default_model()


@pytest.fixture(scope="session")
def tiny_qwen3_dir() -> Path:
    """A tiny random Qwen3 on the real Qwen3 tokenizer and chat template (built once)."""
    from tests.fixtures.qwen3 import build_tiny_qwen3

    return build_tiny_qwen3()


@pytest.fixture(scope="session")
def tiny_gpt_oss_dir() -> Path:
    """A tiny random gpt-oss on the real harmony vocabulary (built once)."""
    from tests.fixtures.gpt_oss import build_tiny_gpt_oss

    return build_tiny_gpt_oss()


@pytest.fixture(scope="session")
def tiny_qwen35_dir() -> Path:
    """A tiny random Qwen3.5 vision model on the real Qwen3.5 tokenizer and template."""
    from tests.fixtures.qwen35 import build_tiny_qwen35

    return build_tiny_qwen35()
