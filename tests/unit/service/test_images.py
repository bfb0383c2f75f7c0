"""A conversation's images before generation: the model check, the count, URL policy,
placeholder agreement, decoding off the loop, and the expanded prompt length."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.core.conversation import Conversation, ImagePart, Message, TextPart
from tera_serve.errors import InvalidRequestError
from tera_serve.media.vision import VisionInputs
from tera_serve.service.images import (
    NO_IMAGES,
    PromptImages,
    check_image_count,
    load_prompt_images,
)
from tests.support.images import EXTREME_SIZES, data_uri, image_bytes, qwen35_image_processor

PAD = 7


class PatchCounter:
    """A processor whose patch count is one per 16×16 cell (as Qwen's, without resizing)."""

    def get_number_of_image_patches(self, height: int, width: int, _kwargs: Any) -> int:
        return (height // 16) * (width // 16)


VISION = VisionInputs(placeholder_id=PAD, processor=PatchCounter(), merge_size=2)
SERVER = ServerConfig(models=(ModelConfig(model="m"),), max_images_per_request=2)


def _served(vision: VisionInputs | None = VISION) -> Any:
    return SimpleNamespace(vision=vision)


def _conversation(*urls: str) -> Conversation:
    parts = tuple(
        ImagePart(url, param=f"messages[0].content[{i}].image_url") for i, url in enumerate(urls)
    )
    return Conversation(model="tera-vl", messages=(Message("user", (*parts, TextPart("hi"))),))


def test_a_text_model_refuses_images_naming_the_model() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_image_count(_conversation(data_uri(image_bytes())), _served(None), SERVER)
    assert "'tera-vl' does not take image inputs" in caught.value.message
    assert caught.value.param == "messages[0].content[0].image_url"


def test_more_images_than_allowed_names_the_first_extra() -> None:
    uri = data_uri(image_bytes())
    with pytest.raises(InvalidRequestError) as caught:
        check_image_count(_conversation(uri, uri, uri), _served(), SERVER)
    assert caught.value.param == "messages[0].content[2].image_url"
    check_image_count(_conversation(uri, uri), _served(), SERVER)


def test_images_load_in_order_with_their_token_counts() -> None:
    conversation = _conversation(data_uri(image_bytes(96, 64)), data_uri(image_bytes(64, 64)))
    images = asyncio.run(load_prompt_images(conversation, (1, PAD, 2, PAD, 3), _served(), SERVER))
    assert images.tokens == (6, 4)
    assert [p.size for p in images.pictures] == [(96, 64), (64, 64)]
    assert images.expanded_length((1, PAD, 2, PAD, 3)) == 3 + 6 + 4
    assert images.expand((1, PAD, 2, PAD, 3)) == [1, *[PAD] * 6, 2, *[PAD] * 4, 3]


def test_low_detail_counts_the_scaled_image() -> None:
    part = ImagePart(data_uri(image_bytes(1024, 512)), detail="low", param="p")
    conversation = Conversation(model="m", messages=(Message("user", (part,)),))
    images = asyncio.run(load_prompt_images(conversation, (PAD,), _served(), SERVER))
    assert images.pictures[0].size == (512, 256)
    assert images.tokens == ((512 // 16) * (256 // 16) // 4,)


def test_the_template_must_place_one_placeholder_per_image() -> None:
    conversation = _conversation(data_uri(image_bytes()))
    with pytest.raises(InvalidRequestError, match="placed 0 image placeholders for 1 images"):
        asyncio.run(load_prompt_images(conversation, (1, 2), _served(), SERVER))


def test_urls_are_off_by_default() -> None:
    conversation = _conversation("https://images.example.com/cat.png")
    with pytest.raises(InvalidRequestError) as caught:
        asyncio.run(load_prompt_images(conversation, (PAD,), _served(), SERVER))
    assert "not enabled" in caught.value.message
    assert caught.value.param == "messages[0].content[0].image_url"


def test_the_first_bad_image_is_reported() -> None:
    conversation = _conversation(data_uri(image_bytes()), data_uri(b"nope"))
    with pytest.raises(InvalidRequestError) as caught:
        asyncio.run(load_prompt_images(conversation, (PAD, PAD), _served(), SERVER))
    assert caught.value.param == "messages[0].content[1].image_url"


def test_no_images_is_the_prompt_as_is() -> None:
    conversation = Conversation(model="m", messages=(Message("user", (TextPart("hi"),)),))
    assert asyncio.run(load_prompt_images(conversation, (1, 2), _served(None), SERVER)) is NO_IMAGES
    assert PromptImages().expand((1, 2)) == [1, 2]
    assert PromptImages().expanded_length((1, 2)) == 2


def test_a_size_the_processor_refuses_is_a_400_naming_that_image() -> None:
    """Qwen's processor refuses an aspect ratio over 200 (a 1×300 PNG): a 400, not a 500."""
    processor = qwen35_image_processor(tiny=True)
    vision = VisionInputs(placeholder_id=PAD, processor=processor, merge_size=2)
    for width, height in EXTREME_SIZES:
        conversation = _conversation(
            data_uri(image_bytes(96, 64)), data_uri(image_bytes(width, height))
        )
        with pytest.raises(InvalidRequestError) as caught:
            asyncio.run(load_prompt_images(conversation, (PAD, PAD), _served(vision), SERVER))
        assert caught.value.status == 400
        assert caught.value.code == "invalid_image"
        assert caught.value.param == "messages[0].content[1].image_url"
        assert "aspect ratio" in caught.value.message


class FailsOnWideImages(PatchCounter):
    def get_number_of_image_patches(self, height: int, width: int, _kwargs: Any) -> int:
        if width > height:
            raise RuntimeError("this processor takes no landscape images")
        return super().get_number_of_image_patches(height, width, _kwargs)


def test_any_processor_failure_names_its_image() -> None:
    vision = VisionInputs(placeholder_id=PAD, processor=FailsOnWideImages(), merge_size=2)
    conversation = _conversation(data_uri(image_bytes(64, 64)), data_uri(image_bytes(96, 64)))
    with pytest.raises(InvalidRequestError) as caught:
        asyncio.run(load_prompt_images(conversation, (PAD, PAD), _served(vision), SERVER))
    assert caught.value.param == "messages[0].content[1].image_url"
    assert "no landscape images" in caught.value.message
