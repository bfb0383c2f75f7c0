"""Image decoding: formats taken, bounds checked before pixels are decoded, clear 400s."""

from __future__ import annotations

import base64

import pytest

from tera_serve.errors import InvalidRequestError
from tera_serve.media.decode import (
    LOW_DETAIL_SIDE,
    ImageLimits,
    apply_detail,
    decode_data_uri,
    decode_image,
    split_data_uri,
)
from tests.support.images import animated_gif, data_uri, image_bytes

LIMITS = ImageLimits(max_bytes=1_000_000, max_pixels=1_000_000)
PARAM = "messages[0].content[1].image_url"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_each_accepted_format_decodes_to_rgb(fmt: str) -> None:
    image = decode_image(image_bytes(96, 64, fmt=fmt), LIMITS, PARAM)
    assert (image.width, image.height) == (96, 64)
    assert image.picture.mode == "RGB"
    assert image.picture.size == (96, 64)


def test_an_animated_gif_gives_its_first_frame() -> None:
    image = decode_image(animated_gif(), LIMITS, PARAM)
    assert image.picture.getpixel((5, 5)) == (255, 0, 0)


def _refusal(data: bytes, limits: ImageLimits = LIMITS) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        decode_image(data, limits, PARAM)
    assert caught.value.param == PARAM
    assert caught.value.status == 400
    return caught.value


def test_not_an_image() -> None:
    assert "not an image" in _refusal(b"hello, this is text").message


def test_an_empty_file() -> None:
    assert "empty" in _refusal(b"").message


def test_a_format_we_do_not_take() -> None:
    assert "not an image" in _refusal(image_bytes(fmt="BMP")).message


def test_a_truncated_image() -> None:
    whole = image_bytes(300, 200, fmt="JPEG")
    assert "truncated or corrupt" in _refusal(whole[: len(whole) // 2]).message


def test_too_many_pixels_is_refused_before_decoding() -> None:
    message = _refusal(image_bytes(1200, 1000), ImageLimits(10**9, 1_000_000)).message
    assert "1200×1000" in message
    assert "1000000 pixels" in message


def test_too_many_bytes() -> None:
    assert "larger than 100 bytes" in _refusal(image_bytes(), ImageLimits(100, 10**6)).message


def test_a_data_uri_round_trip() -> None:
    image = decode_data_uri(data_uri(image_bytes(50, 40)), LIMITS, PARAM)
    assert (image.width, image.height) == (50, 40)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("data:image/png;base64", "no `,`"),
        ("data:text/plain;base64,aGk=", "not 'text/plain'"),
        ("data:;base64,aGk=", "no media type"),
        ("data:image/png,rawbytes", "base64-encoded"),
    ],
)
def test_malformed_data_uris(uri: str, expected: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        split_data_uri(uri, PARAM)
    assert expected in caught.value.message
    assert caught.value.param == PARAM


def test_invalid_base64() -> None:
    with pytest.raises(InvalidRequestError, match="not valid base64"):
        decode_data_uri("data:image/png;base64,@@@notbase64@@@", LIMITS, PARAM)


def test_an_oversized_data_uri_is_refused_from_its_length() -> None:
    payload = base64.b64encode(b"x" * 2000).decode()
    with pytest.raises(InvalidRequestError, match="larger than 1000 bytes"):
        decode_data_uri(f"data:image/png;base64,{payload}", ImageLimits(1000, 10**6), PARAM)


def test_low_detail_scales_to_fit_512() -> None:
    image = decode_image(image_bytes(1024, 600), LIMITS, PARAM)
    low = apply_detail(image, "low")
    assert (low.width, low.height) == (LOW_DETAIL_SIDE, 300)
    assert low.picture.size == (LOW_DETAIL_SIDE, 300)
    assert apply_detail(image, "high") is image
    assert apply_detail(image, None) is image
    small = decode_image(image_bytes(100, 80), LIMITS, PARAM)
    assert apply_detail(small, "low") is small


def _png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge image and whose data is a few bytes: a bomb."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    message = _refusal(_png_header_claiming(100_000, 100_000)).message
    assert "100000×100000" in message or "cannot be read" in message
