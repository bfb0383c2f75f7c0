"""Small test images as bytes and data URIs (made with Pillow, nothing on disk)."""

from __future__ import annotations

import base64
import functools
import io
import json
import tempfile
from pathlib import Path
from typing import Any


def image_bytes(
    width: int = 96, height: int = 64, color: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG"
) -> bytes:
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (width, height), color)
    # A stripe makes two images of one colour differ in more than their mean.
    ImageDraw.Draw(picture).rectangle((0, 0, width // 3, height // 2), fill=(20, 160, 40))
    out = io.BytesIO()
    picture.save(out, format=fmt)
    return out.getvalue()


def animated_gif(width: int = 40, height: int = 30) -> bytes:
    from PIL import Image

    frames = [Image.new("RGB", (width, height), c) for c in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    return out.getvalue()


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def file_data_uri(data: bytes) -> str:
    """A data URI with the media type of the file's own format (image/jpeg for a JPEG)."""
    from PIL import Image

    fmt = Image.open(io.BytesIO(data)).format or "PNG"
    return data_uri(data, f"image/{fmt.lower()}")


def encoded(picture: Any, fmt: str, **options: Any) -> bytes:
    """A Pillow picture (or the first of a list of frames) saved as `fmt` bytes."""
    frames = picture if isinstance(picture, list) else [picture]
    out = io.BytesIO()
    if len(frames) > 1:
        options = {"save_all": True, "append_images": frames[1:], "duration": 40, **options}
    frames[0].save(out, format=fmt, **options)
    return out.getvalue()


def striped(width: int, height: int, mode: str = "RGB") -> Any:
    """A picture in `mode` whose top-left corner differs from the rest (not one flat colour);
    in a mode with alpha, that corner is half transparent."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGBA", (width, height), (200, 30, 30, 255))
    corner = (0, 0, width // 3, height // 2)
    ImageDraw.Draw(picture).rectangle(corner, fill=(20, 160, 40, 128))
    return picture.convert(mode)


def odd_mode_images(width: int = 40, height: int = 30) -> dict[str, bytes]:
    """One file per unusual pixel mode a client may send, in a format that stores it."""
    from PIL import Image

    palette = striped(width, height).convert("P")  # from RGB: no alpha in its palette
    clear = {"transparency": palette.getpixel((0, 0)), "optimize": False}
    gray16 = Image.new("I;16", (width, height), 1000)
    gray16.putpixel((0, 0), 65535)
    return {
        "1 (bilevel) PNG": encoded(striped(width, height, "1"), "PNG"),
        "P PNG": encoded(palette, "PNG"),
        "P with transparency PNG": encoded(palette, "PNG", **clear),
        "P with transparency GIF": encoded(palette, "GIF", **clear),
        "LA PNG": encoded(striped(width, height, "LA"), "PNG"),
        "RGBA PNG": encoded(striped(width, height, "RGBA"), "PNG"),
        "RGBA WebP": encoded(striped(width, height, "RGBA"), "WEBP"),
        "CMYK JPEG": encoded(striped(width, height, "CMYK"), "JPEG"),
        "L JPEG": encoded(striped(width, height, "L"), "JPEG"),
        "I;16 PNG": encoded(gray16, "PNG"),
    }


def with_orientation(
    orientation: int, width: int = 40, height: int = 30, fmt: str = "JPEG"
) -> bytes:
    """A picture carrying EXIF orientation `orientation` (1-8; 5-8 swap width and height)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    return encoded(striped(width, height), fmt, exif=exif.tobytes())


def animated(fmt: str, width: int = 40, height: int = 30, frames: int = 3) -> bytes:
    """A multi-frame GIF, APNG (`fmt="PNG"`) or WebP whose frames differ in colour."""
    from PIL import Image

    colors = [(255, 0, 0), (0, 0, 255), (0, 200, 0), (250, 250, 0)]
    pictures = [Image.new("RGB", (width, height), colors[i % 4]) for i in range(frames)]
    return encoded(pictures, fmt)


EXTREME_SIZES = ((1, 300), (300, 1), (2, 1000), (4000, 3))
"""Sizes Qwen's image processor refuses (aspect ratio over 200), small in pixels and bytes."""


CHAT_IMAGE_PARAM = "messages[0].content[1].image_url"
"""The `param` of the image in `text_then_image`'s messages."""


def text_then_image(image_url: str, text: str = "What is in this picture?") -> list[dict[str, Any]]:
    """Chat messages of one user turn: a question, then the image (`CHAT_IMAGE_PARAM`)."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": image_url}},
            ],
        }
    ]


@functools.cache
def qwen35_image_processor(tiny: bool = True) -> Any:
    """transformers' real Qwen3.5 image processor from its shipped config, without a model:
    with the tiny test model's pixel bounds (`tiny`) or the shipped ones."""
    from transformers import AutoImageProcessor

    from tests.fixtures.qwen35 import TINY_MAX_PIXELS, TINY_MIN_PIXELS, shared_file

    config = json.loads(shared_file("preprocessor_config.json").read_text())
    if tiny:
        config["size"] = {"longest_edge": TINY_MAX_PIXELS, "shortest_edge": TINY_MIN_PIXELS}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "preprocessor_config.json").write_text(json.dumps(config))
        return AutoImageProcessor.from_pretrained(folder)


def processor_image_tokens(processor: Any, picture: Any) -> int:
    """The tokens the processor's own run over `picture` expands its placeholder to."""
    grid = processor(images=[picture])["image_grid_thw"][0]
    t, h, w = (int(x) for x in grid)
    return t * h * w // (int(processor.merge_size) ** 2)
