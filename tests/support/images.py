"""Small test images as bytes and data URIs (made with Pillow, nothing on disk)."""

from __future__ import annotations

import base64
import io


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
