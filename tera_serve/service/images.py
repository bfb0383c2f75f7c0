"""A conversation's images: checked, fetched or decoded off the loop, and counted.

Every image part, in prompt order, becomes one decoded picture and the number of prompt
tokens its placeholder expands to. Each failure is a 400 naming the part's `param`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tera_serve.bounded_work import offload
from tera_serve.config import ServerConfig
from tera_serve.core.conversation import Conversation, ImagePart
from tera_serve.errors import InvalidRequestError
from tera_serve.media.decode import (
    DecodedImage,
    ImageLimits,
    apply_detail,
    decode_data_uri,
    decode_image,
)
from tera_serve.media.fetch import FetchPolicy, fetch_url
from tera_serve.media.vision import VisionInputs
from tera_serve.service.registry import ServedModel


@dataclass(frozen=True)
class PromptImages:
    """The decoded images of one prompt and what each adds to its length."""

    pictures: tuple[Any, ...] = ()
    """PIL images, in the order of their placeholders."""
    tokens: tuple[int, ...] = ()
    """Prompt tokens each image expands to."""
    placeholder_id: int | None = None

    def expanded_length(self, token_ids: tuple[int, ...]) -> int:
        """The prompt's length as the engine runs it (each placeholder → its image tokens)."""
        return len(token_ids) + sum(self.tokens) - len(self.tokens)

    def expand(self, token_ids: tuple[int, ...]) -> list[int]:
        """The prompt as the engine runs it: each placeholder repeated for its image."""
        if not self.tokens:
            return list(token_ids)
        counts = iter(self.tokens)
        out: list[int] = []
        for token in token_ids:
            out.extend([token] * next(counts) if token == self.placeholder_id else (token,))
        return out


NO_IMAGES = PromptImages()


def image_parts(conversation: Conversation) -> tuple[ImagePart, ...]:
    return tuple(image for message in conversation.messages for image in message.images())


def check_image_count(
    conversation: Conversation, served: ServedModel, server: ServerConfig
) -> None:
    """Cheap checks before any rendering: the model takes images, and not too many."""
    images = image_parts(conversation)
    if not images:
        return
    if served.vision is None:
        raise InvalidRequestError(
            f"The model '{conversation.model}' does not take image inputs.",
            param=images[0].param,
            code="image_input_unsupported",
        )
    if len(images) > server.max_images_per_request:
        raise InvalidRequestError(
            f"The request has {len(images)} images; the limit is {server.max_images_per_request}.",
            param=images[server.max_images_per_request].param,
        )


def _decode(image: ImagePart, data: bytes | None, limits: ImageLimits) -> DecodedImage:
    """One pool job: base64 (for data URIs), header checks, decoding, `detail` scaling."""
    decoded = (
        decode_image(data, limits, image.param)
        if data is not None
        else decode_data_uri(image.url, limits, image.param)
    )
    return apply_detail(decoded, image.detail)


async def load_image(image: ImagePart, server: ServerConfig) -> DecodedImage:
    limits = ImageLimits(max_bytes=server.max_image_bytes, max_pixels=server.max_image_pixels)
    data: bytes | None = None
    if not image.url.startswith("data:"):
        policy = FetchPolicy(
            allowed_domains=server.allowed_media_domains,
            max_bytes=server.max_image_bytes,
            timeout_s=server.media_fetch_timeout_s,
        )
        data = await fetch_url(image.url, policy, param=image.param)
    return await offload(_decode, image, data, limits, what="decoding an image")


async def load_prompt_images(
    conversation: Conversation,
    token_ids: tuple[int, ...],
    served: ServedModel,
    server: ServerConfig,
) -> PromptImages:
    parts = image_parts(conversation)
    if not parts:
        return NO_IMAGES
    vision: VisionInputs | None = served.vision
    if vision is None:  # check_image_count ran first; this keeps the types honest
        raise InvalidRequestError("This model does not take image inputs.", param=parts[0].param)
    placed = sum(1 for token in token_ids if token == vision.placeholder_id)
    if placed != len(parts):
        raise InvalidRequestError(
            f"The chat template placed {placed} image placeholders for {len(parts)} images.",
            param=parts[0].param,
        )
    try:
        # Fetched together; the first failure cancels the others.
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(load_image(part, server)) for part in parts]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    decoded = [task.result() for task in tasks]
    return PromptImages(
        pictures=tuple(image.picture for image in decoded),
        # A size the processor refuses is refused here, before the engine sees the image.
        tokens=tuple(
            vision.tokens_for(image.width, image.height, part.param)
            for image, part in zip(decoded, parts, strict=True)
        ),
        placeholder_id=vision.placeholder_id,
    )
