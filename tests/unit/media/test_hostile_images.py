"""Hostile but well-formed images through the whole processor path, as the server runs it:
decode (bounds, first frame, RGB), then the count from the real Qwen3.5 image processor.

Every image either decodes to an RGB picture whose tokens are what the processor's own run
over that picture gives (what vLLM computes later), or is a 400 `invalid_image` naming the
image. Nothing else: no other exception, no count the engine would disagree with.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tera_serve.errors import InvalidRequestError
from tera_serve.media.decode import DecodedImage, ImageLimits, decode_image
from tera_serve.media.vision import VisionInputs
from tests.support.images import (
    EXTREME_SIZES,
    animated,
    encoded,
    odd_mode_images,
    processor_image_tokens,
    qwen35_image_processor,
    striped,
    with_orientation,
)

LIMITS = ImageLimits(max_bytes=2_000_000, max_pixels=1_000_000)
PARAM = "messages[0].content[1].image_url"
_PROCESSOR = qwen35_image_processor(tiny=True)
VISION = VisionInputs(placeholder_id=7, processor=_PROCESSOR, merge_size=_PROCESSOR.merge_size)
FUZZ = settings(
    max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def through(data: bytes) -> tuple[DecodedImage, int] | InvalidRequestError:
    """Decode and count as service/images.py does; a refusal must be a 400 naming the image."""
    try:
        image = decode_image(data, LIMITS, PARAM)
        tokens = VISION.tokens_for(image.width, image.height, PARAM)
    except InvalidRequestError as error:
        assert (error.status, error.code, error.param) == (400, "invalid_image", PARAM)
        return error
    assert image.picture.mode == "RGB"
    assert image.picture.size == (image.width, image.height)
    assert tokens == processor_image_tokens(_PROCESSOR, image.picture)
    return image, tokens


def counted(data: bytes) -> tuple[DecodedImage, int]:
    result = through(data)
    assert not isinstance(result, InvalidRequestError), result.message
    return result


@pytest.mark.parametrize(("width", "height"), EXTREME_SIZES)
@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP", "JPEG"])
def test_extreme_aspect_ratios_are_refused_whatever_the_format(
    width: int, height: int, fmt: str
) -> None:
    result = through(encoded(striped(width, height), fmt))
    assert isinstance(result, InvalidRequestError)
    assert f"{width}×{height}" in result.message and "aspect ratio" in result.message


@pytest.mark.parametrize("case", sorted(odd_mode_images()))
def test_odd_modes_decode_to_rgb_and_count(case: str) -> None:
    image, tokens = counted(odd_mode_images()[case])
    assert (image.width, image.height, tokens) == (
        40,
        30,
        counted(encoded(striped(40, 30), "PNG"))[1],
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientations_decode_and_count(orientation: int, fmt: str) -> None:
    image, _ = counted(with_orientation(orientation, 60, 20, fmt))
    assert (image.width, image.height) == (60, 20)  # the stored pixels, counted as sent


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animated_images_give_their_first_frame(fmt: str) -> None:
    image, _ = counted(animated(fmt, 40, 30))
    red, green, blue = image.picture.getpixel((20, 15))
    assert red > 200 and green < 60 and blue < 60


def test_animated_frames_at_an_extreme_ratio_are_refused() -> None:
    result = through(animated("PNG", 1, 300))
    assert isinstance(result, InvalidRequestError) and "aspect ratio" in result.message


MODE_FORMATS: dict[str, tuple[str, ...]] = {
    "RGB": ("PNG", "JPEG", "WEBP", "GIF"),
    "RGBA": ("PNG", "WEBP", "GIF"),
    "L": ("PNG", "JPEG", "WEBP", "GIF"),
    "LA": ("PNG", "WEBP"),
    "1": ("PNG", "GIF", "JPEG"),
    "P": ("PNG", "GIF", "WEBP"),
    "CMYK": ("JPEG",),
    "I;16": ("PNG",),
}
EXIF_FORMATS = ("JPEG", "PNG", "WEBP")
ANIMATED_FORMATS = ("PNG", "GIF", "WEBP")


@st.composite
def hostile_images(draw: st.DrawFn) -> bytes:
    """A valid file of odd size, mode, EXIF orientation and frame count."""
    width = draw(st.sampled_from((1, 2, 3, 7, 16, 31, 64, 250, 400, 1000, 4000)))
    height = draw(st.integers(1, max(1, min(4000, 1_000_000 // width))))
    if draw(st.booleans()):
        width, height = height, width
    mode = draw(st.sampled_from(sorted(MODE_FORMATS)))
    fmt = draw(st.sampled_from(MODE_FORMATS[mode]))
    options: dict[str, Any] = {}
    if fmt in EXIF_FORMATS and draw(st.booleans()):
        from PIL import Image

        exif = Image.Exif()
        exif[0x0112] = draw(st.integers(1, 8))
        options["exif"] = exif.tobytes()
    frames = draw(st.integers(1, 3)) if fmt in ANIMATED_FORMATS and mode != "I;16" else 1
    pictures = [striped(width, height, mode).rotate(90 * i) for i in range(frames)]
    return encoded(pictures if frames > 1 else pictures[0], fmt, **options)


@FUZZ
@given(data=hostile_images())
def test_fuzz_valid_images_count_or_are_refused(data: bytes) -> None:
    through(data)


def _mutations() -> st.SearchStrategy[bytes]:
    seeds = [
        encoded(striped(40, 30), "PNG"),
        encoded(striped(40, 30), "JPEG", progressive=True),
        encoded(striped(40, 30, "RGBA"), "WEBP", lossless=True),
        animated("GIF"),
        animated("PNG"),
        animated("WEBP"),
        with_orientation(6),
        odd_mode_images()["I;16 PNG"],
    ]

    def mutate(seed: bytes, edits: list[tuple[int, int]]) -> bytes:
        out = bytearray(seed)
        for where, value in edits:
            if not out:
                break
            at = where % len(out)
            if value < 0:
                del out[at:]
            else:
                out[at] = value
        return bytes(out) or b"x"

    edit = st.tuples(st.integers(0, 1 << 16), st.integers(-1, 255))
    return st.builds(mutate, st.sampled_from(seeds), st.lists(edit, min_size=1, max_size=8))


@FUZZ
@given(data=_mutations())
def test_fuzz_corrupted_images_count_or_are_refused(data: bytes) -> None:
    through(data)


@pytest.mark.parametrize(
    "error", [struct.error("unpack requires a buffer"), EOFError(), KeyError(3)]
)
def test_any_decoder_failure_is_a_400_naming_the_image(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """Pillow's decoders raise many types on hostile data, not only OSError/ValueError."""
    from PIL import Image

    def broken(*_: object, **__: object) -> Any:
        raise error

    data = encoded(striped(40, 30), "PNG")
    monkeypatch.setattr(Image.Image, "convert", broken)
    result = through(data)
    assert isinstance(result, InvalidRequestError) and "truncated or corrupt" in result.message
    monkeypatch.setattr(Image, "open", broken)
    result = through(data)
    assert isinstance(result, InvalidRequestError) and "cannot be read" in result.message


def test_running_out_of_memory_is_not_the_images_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    def exhausted(*_: object, **__: object) -> Any:
        raise MemoryError

    monkeypatch.setattr(Image.Image, "convert", exhausted)
    with pytest.raises(MemoryError):
        decode_image(encoded(striped(40, 30), "PNG"), LIMITS, PARAM)


def test_helpers_make_what_they_say() -> None:
    from PIL import Image

    modes = {name: Image.open(io.BytesIO(data)) for name, data in odd_mode_images().items()}
    assert modes["CMYK JPEG"].mode == "CMYK" and modes["I;16 PNG"].mode == "I;16"
    assert modes["LA PNG"].mode == "LA" and modes["1 (bilevel) PNG"].mode == "1"
    assert "transparency" in modes["P with transparency PNG"].info
    assert "transparency" in modes["P with transparency GIF"].info
    assert Image.open(io.BytesIO(with_orientation(6))).getexif()[0x0112] == 6
    assert all(Image.open(io.BytesIO(animated(f))).n_frames == 3 for f in ANIMATED_FORMATS)
