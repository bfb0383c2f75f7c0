"""Image bytes → one RGB picture, bounded before any pixel is decoded.

Runs in the bounded CPU pool (never on the event loop). The header is read first: a
format we do not take, or more pixels than allowed, is refused before decoding, so a
small file that inflates to gigabytes (a decompression bomb) costs nothing.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass
from typing import Any

from tera_serve.errors import InvalidRequestError

ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp", "GIF": "gif"}
DATA_URI_MEDIA_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif"}
)


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int


@dataclass(frozen=True)
class DecodedImage:
    picture: Any
    """A loaded RGB `PIL.Image.Image`, what vLLM's processor takes."""
    width: int
    height: int


def _refuse(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code="invalid_image")


def split_data_uri(url: str, param: str) -> str:
    """The base64 payload of `data:image/<type>;base64,<payload>`."""
    header, comma, payload = url.partition(",")
    if not comma:
        raise _refuse("The image data URI has no `,` before its data.", param)
    parts = header.removeprefix("data:").split(";")
    media_type = parts[0].strip().lower()
    if media_type not in DATA_URI_MEDIA_TYPES:
        raise _refuse(
            f"Image data URIs must be image/png, image/jpeg, image/webp or image/gif, "
            f"not {media_type or 'no media type'!r}.",
            param,
        )
    if "base64" not in (p.strip().lower() for p in parts[1:]):
        raise _refuse("Image data URIs must be base64-encoded (`;base64,`).", param)
    return payload


def decode_base64(payload: str, limits: ImageLimits, param: str) -> bytes:
    # The size is known from the length: refuse before decoding anything.
    if len(payload) * 3 // 4 > limits.max_bytes + 2:
        raise _refuse(f"The image is larger than {limits.max_bytes} bytes.", param)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refuse("The image data is not valid base64.", param) from exc


def decode_image(data: bytes, limits: ImageLimits, param: str) -> DecodedImage:
    from PIL import Image, UnidentifiedImageError

    if len(data) > limits.max_bytes:
        raise _refuse(f"The image is larger than {limits.max_bytes} bytes.", param)
    if not data:
        raise _refuse("The image is empty.", param)
    try:
        with warnings.catch_warnings():
            # Pillow warns on large images; our own pixel bound decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except UnidentifiedImageError as exc:
        raise _refuse(
            "The data is not an image in a format this server takes (PNG, JPEG, WebP, GIF).",
            param,
        ) from exc
    except MemoryError:
        raise  # the server's trouble, not the image's
    except Exception as exc:  # Pillow's plugins raise many types on hostile headers
        raise _refuse(f"The image cannot be read: {exc}", param) from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise _refuse("The image has no pixels.", param)
    if width * height > limits.max_pixels:
        raise _refuse(
            f"The image is {width}×{height} ({width * height} pixels); the limit is "
            f"{limits.max_pixels} pixels.",
            param,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.seek(0)  # an animated GIF or WebP: its first frame
            picture = image.convert("RGB")
            picture.load()
    except MemoryError:
        raise
    except Exception as exc:
        # Truncated or corrupt pixel data: Pillow only finds out while decoding, and its
        # decoders raise OSError, SyntaxError, EOFError, struct.error, ... for it.
        raise _refuse(f"The image data is truncated or corrupt: {exc}", param) from exc
    # The decoded frame's own size: what the engine's processor sees, so what is counted.
    return DecodedImage(picture=picture, width=picture.width, height=picture.height)


LOW_DETAIL_SIDE = 512
"""`detail: low` (OpenAI's low-fidelity mode): the image is scaled to fit this square."""


def apply_detail(image: DecodedImage, detail: str | None) -> DecodedImage:
    if detail != "low" or max(image.width, image.height) <= LOW_DETAIL_SIDE:
        return image
    from PIL import Image

    picture = image.picture.copy()
    picture.thumbnail((LOW_DETAIL_SIDE, LOW_DETAIL_SIDE), Image.Resampling.BICUBIC)
    return DecodedImage(picture=picture, width=picture.width, height=picture.height)


def decode_data_uri(url: str, limits: ImageLimits, param: str) -> DecodedImage:
    return decode_image(decode_base64(split_data_uri(url, param), limits, param), limits, param)
