"""Hostile images against a running tera-serve with a vision model: small, valid files that
the model's image processor cannot take (an aspect ratio over 200), in odd modes and formats.

Each must be a 400 `invalid_image` naming the image, decided before the engine sees it.
Shaped like the attacks of tests/support/hostile.py (a Target in, an Outcome out):
tests/e2e/test_hostile_images_e2e.py asserts the outcome, benchmarks/hostile.py can report
the worst /health latency under it.
"""

from __future__ import annotations

import concurrent.futures
import functools
from typing import Any

import httpx

from tests.support.hostile import Outcome, Target, _timed
from tests.support.images import (
    EXTREME_SIZES,
    animated,
    encoded,
    file_data_uri,
    striped,
    text_then_image,
    with_orientation,
)

VISION_MODEL = "tera-test/tiny-qwen3.5-vl"
"""The name tests/e2e/conftest.py serves the tiny Qwen3.5 vision model under."""
PARALLEL = 4


@functools.cache
def extreme_images() -> dict[str, str]:
    """Name → data URI: the four sizes of issue 24 as plain PNGs, then odd modes, formats,
    an EXIF rotation and animated frames at those sizes."""
    (w1, h1), (w2, h2), (w3, h3), (w4, h4) = EXTREME_SIZES
    files = {f"{w}×{h} PNG": encoded(striped(w, h), "PNG") for w, h in EXTREME_SIZES}
    palette = striped(w2, h2).convert("P")
    files |= {
        f"{w1}×{h1} bilevel (1) PNG": encoded(striped(w1, h1, "1"), "PNG"),
        f"{w1}×{h1} I;16 PNG": encoded(striped(w1, h1, "I;16"), "PNG"),
        f"{w2}×{h2} palette GIF": encoded(palette, "GIF"),
        f"{w2}×{h2} palette with transparency PNG": encoded(
            palette, "PNG", transparency=palette.getpixel((0, 0))
        ),
        f"{w2}×{h2} RGBA WebP": encoded(striped(w2, h2, "RGBA"), "WEBP"),
        f"{w3}×{h3} LA PNG": encoded(striped(w3, h3, "LA"), "PNG"),
        f"{w3}×{h3} EXIF orientation 6 JPEG": with_orientation(6, w3, h3),
        f"{w4}×{h4} CMYK JPEG": encoded(striped(w4, h4, "CMYK"), "JPEG"),
        f"{w4}×{h4} animated PNG": animated("PNG", w4, h4),
        f"{w4}×{h4} animated GIF": animated("GIF", w4, h4),
    }
    return {name: file_data_uri(data) for name, data in files.items()}


def image_chat(image_url: str, **extra: Any) -> dict[str, Any]:
    """A chat body of one question and one image (`CHAT_IMAGE_PARAM`)."""
    return {
        "model": VISION_MODEL,
        "messages": text_then_image(image_url),
        "max_tokens": 1,
        "temperature": 0,
        "reasoning_effort": "none",
        **extra,
    }


@_timed
def extreme_aspect_images(target: Target) -> Outcome:
    """14 small valid images of aspect ratio 300 to 1,333 (PNG, GIF, JPEG, WebP; modes 1,
    P, LA, CMYK, I;16, RGBA; EXIF, animated), 4 chats at a time."""
    images = extreme_images()
    bodies = [image_chat(url) for url in images.values()]
    outcome = Outcome([])
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(lambda b: target.post("/v1/chat/completions", b), bodies))
    for response in responses:
        outcome.add(response)
    outcome.notes["cases"] = list(images)
    outcome.notes["messages"] = [_message(response) for response in responses]
    return outcome


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
