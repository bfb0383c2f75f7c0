"""Which loaded models take images, and how many prompt tokens each image becomes.

The chat template writes one placeholder token per image; vLLM's processor expands it to
the image's patch count. We compute that count ourselves, from the model's own image
processor and the image's size, before admission: the context check, `usage` and
`/tokenize` then count the prompt the engine actually runs.

Adding a vision family is one entry in `_PLACEHOLDERS` (its model_type and placeholder),
provided its processor's token count is `patches / merge_size²` as below.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tera_serve.errors import InvalidRequestError

logger = logging.getLogger(__name__)

# model_type → the image placeholder its chat template writes (one per image).
_PLACEHOLDERS: dict[str, str] = {
    "qwen3_5": "<|image_pad|>",
    "qwen3_5_moe": "<|image_pad|>",
    "qwen3_vl": "<|image_pad|>",
    "qwen3_vl_moe": "<|image_pad|>",
    "qwen2_5_vl": "<|image_pad|>",
    "qwen2_vl": "<|image_pad|>",
}


@dataclass(frozen=True)
class VisionInputs:
    """A loaded model's image input: its placeholder and its image processor."""

    placeholder_id: int
    processor: Any
    """The model's transformers image processor (sizes → patches)."""
    merge_size: int

    def tokens_for(self, width: int, height: int, param: str) -> int:
        """Prompt tokens one image of this size becomes (its placeholder's expansion).

        A size the processor refuses (Qwen's: an aspect ratio over 200) is a 400 naming the
        image: vLLM's processor, which sizes the image the same way, would refuse it too,
        and only after admission."""
        try:
            patches = self.processor.get_number_of_image_patches(height, width, {})
        except Exception as exc:  # the processor's own refusal, whatever its type
            raise InvalidRequestError(
                f"The image is {width}×{height}; the model's image processor cannot take it: {exc}",
                param=param,
                code="invalid_image",
            ) from exc
        return int(patches) // (self.merge_size * self.merge_size)


def images_disabled(engine_args: Mapping[str, Any]) -> bool:
    """The operator turned image inputs off for the engine (`--limit-mm-per-prompt`)."""
    limits = engine_args.get("limit_mm_per_prompt")
    if isinstance(limits, Mapping):
        image = limits.get("image")
        count = image.get("count") if isinstance(image, Mapping) else image
        return count == 0
    return False


def load_vision_inputs(
    model_path: str, hf_config: Any, tokenizer: Any, engine_args: Mapping[str, Any]
) -> VisionInputs | None:
    """The model's image input, or None for a text-only model (or one run text-only)."""
    model_type = str(getattr(hf_config, "model_type", "") or "")
    placeholder = _PLACEHOLDERS.get(model_type)
    if placeholder is None or getattr(hf_config, "language_model_only", False):
        return None
    if images_disabled(engine_args):
        return None
    from transformers import AutoImageProcessor

    processor = AutoImageProcessor.from_pretrained(model_path)
    placeholder_id = tokenizer.convert_tokens_to_ids(placeholder)
    if not isinstance(placeholder_id, int) or placeholder_id == tokenizer.unk_token_id:
        logger.warning("%s: no %s token in the tokenizer; images are off", model_path, placeholder)
        return None
    return VisionInputs(
        placeholder_id=placeholder_id,
        processor=processor,
        merge_size=int(getattr(processor, "merge_size", 2)),
    )
