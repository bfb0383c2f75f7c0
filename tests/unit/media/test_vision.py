"""Which models take images, and the token count of an image (the processor's own)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tera_serve.media.vision import images_disabled, load_vision_inputs


@pytest.fixture(scope="module")
def tiny_vision(tiny_qwen35_dir: Path) -> tuple[Path, object]:
    from transformers import AutoConfig, AutoTokenizer

    return tiny_qwen35_dir, (
        AutoConfig.from_pretrained(str(tiny_qwen35_dir)),
        AutoTokenizer.from_pretrained(str(tiny_qwen35_dir)),
    )


def test_qwen35_takes_images_with_its_own_placeholder(tiny_vision: tuple[Path, object]) -> None:
    folder, (config, tokenizer) = tiny_vision  # type: ignore[misc]
    vision = load_vision_inputs(str(folder), config, tokenizer, {})
    assert vision is not None
    assert vision.placeholder_id == 248056  # <|image_pad|>
    assert vision.merge_size == 2


@pytest.mark.parametrize(("width", "height"), [(96, 64), (40, 30), (500, 300), (17, 333)])
def test_token_count_equals_the_processors_expansion(
    tiny_vision: tuple[Path, object], width: int, height: int
) -> None:
    from PIL import Image
    from transformers import AutoImageProcessor

    folder, (config, tokenizer) = tiny_vision  # type: ignore[misc]
    vision = load_vision_inputs(str(folder), config, tokenizer, {})
    assert vision is not None
    processed = AutoImageProcessor.from_pretrained(str(folder))(
        images=[Image.new("RGB", (width, height))]
    )
    t, h, w = (int(x) for x in processed["image_grid_thw"][0])
    assert vision.tokens_for(width, height) == t * h * w // 4


def test_96x64_is_6_tokens(tiny_vision: tuple[Path, object]) -> None:
    folder, (config, tokenizer) = tiny_vision  # type: ignore[misc]
    vision = load_vision_inputs(str(folder), config, tokenizer, {})
    assert vision is not None and vision.tokens_for(96, 64) == 6


def test_text_models_and_text_only_runs_take_none(tiny_vision: tuple[Path, object]) -> None:
    folder, (config, tokenizer) = tiny_vision  # type: ignore[misc]
    llama = SimpleNamespace(model_type="llama")
    assert load_vision_inputs(str(folder), llama, tokenizer, {}) is None
    off = {"limit_mm_per_prompt": {"image": 0}}
    assert load_vision_inputs(str(folder), config, tokenizer, off) is None
    text_only = SimpleNamespace(model_type="qwen3_5", language_model_only=True)
    assert load_vision_inputs(str(folder), text_only, tokenizer, {}) is None


def test_images_disabled_reads_both_limit_shapes() -> None:
    assert images_disabled({"limit_mm_per_prompt": {"image": 0}})
    assert images_disabled({"limit_mm_per_prompt": {"image": {"count": 0}}})
    assert not images_disabled({"limit_mm_per_prompt": {"image": 2}})
    assert not images_disabled({})
