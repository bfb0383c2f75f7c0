"""Which models take images, and the token count of an image (the processor's own), or a
400 naming the image for a size the processor refuses."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tera_serve.errors import InvalidRequestError
from tera_serve.media.vision import VisionInputs, images_disabled, load_vision_inputs
from tests.support.images import EXTREME_SIZES, processor_image_tokens, qwen35_image_processor

PARAM = "messages[0].content[1].image_url"


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
    assert vision.tokens_for(width, height, PARAM) == t * h * w // 4


def test_96x64_is_6_tokens(tiny_vision: tuple[Path, object]) -> None:
    folder, (config, tokenizer) = tiny_vision  # type: ignore[misc]
    vision = load_vision_inputs(str(folder), config, tokenizer, {})
    assert vision is not None and vision.tokens_for(96, 64, PARAM) == 6


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


# The image processor alone (no model): every size either counts as the processor's own run
# over such a picture counts it, or is a 400 naming the image, and then the processor's run
# (the one vLLM makes after admission) refuses that picture too.

PROCESSORS = {"tiny bounds": True, "shipped bounds": False}
EDGE_SIZES = ((1, 1), (1, 2), (2, 1), (1, 200), (200, 1), (1, 201), (201, 1), (3, 3))


def _vision(tiny: bool) -> VisionInputs:
    processor = qwen35_image_processor(tiny)
    return VisionInputs(placeholder_id=7, processor=processor, merge_size=processor.merge_size)


def _refused(vision: VisionInputs, width: int, height: int) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        vision.tokens_for(width, height, PARAM)
    error = caught.value
    assert (error.status, error.code, error.param) == (400, "invalid_image", PARAM)
    assert f"{width}×{height}" in error.message
    return error


@pytest.mark.parametrize("tiny", PROCESSORS.values(), ids=PROCESSORS.keys())
@pytest.mark.parametrize(("width", "height"), EXTREME_SIZES)
def test_an_extreme_aspect_ratio_is_a_400_naming_the_image(
    tiny: bool, width: int, height: int
) -> None:
    from PIL import Image

    assert "aspect ratio must be smaller than 200" in _refused(_vision(tiny), width, height).message
    with pytest.raises(ValueError, match="aspect ratio"):
        processor_image_tokens(qwen35_image_processor(tiny), Image.new("RGB", (width, height)))


def _sizes() -> st.SearchStrategy[tuple[int, int]]:
    """Odd sizes within the e2e server's pixel bound: edges, any, and ratios near 200."""
    any_size = st.integers(1, 4000).flatmap(
        lambda w: st.tuples(st.just(w), st.integers(1, min(4000, 1_000_000 // w)))
    )
    near_limit = st.integers(1, 12).flatmap(
        lambda short: st.tuples(st.just(short), st.integers(short * 190, short * 210))
    )
    return st.one_of(
        st.sampled_from(EXTREME_SIZES + EDGE_SIZES),
        any_size,
        near_limit,
        near_limit.map(lambda size: (size[1], size[0])),
    )


@pytest.mark.parametrize("tiny", PROCESSORS.values(), ids=PROCESSORS.keys())
@settings(max_examples=60, deadline=None, database=None)
@given(size=_sizes())
def test_every_size_counts_as_the_processor_runs_or_is_refused(
    tiny: bool, size: tuple[int, int]
) -> None:
    from PIL import Image

    width, height = size
    vision = _vision(tiny)
    picture = Image.new("RGB", (width, height), (90, 120, 30))
    try:
        counted = vision.tokens_for(width, height, PARAM)
    except InvalidRequestError:
        _refused(vision, width, height)
        with pytest.raises(ValueError):
            processor_image_tokens(vision.processor, picture)
        return
    assert counted == processor_image_tokens(vision.processor, picture)


class Refusing:
    """A processor that fails in its own way (not ValueError) for one size."""

    merge_size = 2

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_number_of_image_patches(self, height: int, width: int, _kwargs: object) -> int:
        if (width, height) == (5, 5):
            raise self.error
        return 16


@pytest.mark.parametrize("error", [ZeroDivisionError("division by zero"), RuntimeError("x")])
def test_any_processor_failure_is_a_400_naming_the_image(error: Exception) -> None:
    vision = VisionInputs(placeholder_id=7, processor=Refusing(error), merge_size=2)
    assert vision.tokens_for(6, 6, PARAM) == 4
    refused = _refused(vision, 5, 5)
    assert str(error) in refused.message
    assert refused.__cause__ is error
