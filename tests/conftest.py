"""Shared fixtures: the embedded default model folder (converted once, cached)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smollm_dir() -> Path:
    from tera_serve.default_model import ensure_default_model

    return ensure_default_model()
