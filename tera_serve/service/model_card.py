"""GET /v1/models entries with Tera's extra fields."""

from __future__ import annotations

import dataclasses
from typing import Any

from tera_serve.engine.pooling import PoolingInfo
from tera_serve.service.registry import ServedModel

SAMPLING_PARAMETERS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "logprobs",
    "top_logprobs",
)

_DTYPE_LABELS = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "half": "fp16"}
_QUANT_LABELS = {"fp8": "fp8", "mxfp4": "mxfp4", "awq": "int4", "gptq": "int4", "gguf": "int4"}


def quantization_label(served: ServedModel) -> str:
    if served.config.quantization:
        return served.config.quantization
    info = served.engine.info
    if info.quantization:
        return _QUANT_LABELS.get(info.quantization, info.quantization)
    return _DTYPE_LABELS.get(info.dtype, info.dtype)


def supported_features(served: ServedModel) -> list[str]:
    own = served.family.features()
    features = ["json_mode", "structured_outputs", "logprobs"]
    if "tools" in own:
        features.insert(0, "tools")
    if "reasoning" in own:
        features.append("reasoning")
    return features


def pooling_card(
    served: ServedModel, pooling: PoolingInfo, model_id: str | None = None
) -> dict[str, Any]:
    """A pooling model's entry: text in, vectors (or scores) out, with its dimensions."""
    config = served.config
    return {
        "id": model_id or config.served_id,
        "object": "model",
        "created": served.created,
        "owned_by": config.owned_by,
        "task": config.task,
        "context_length": served.context_length,
        "max_output_length": 0,
        "input_modalities": ["text"],
        "output_modalities": ["embedding"] if config.task == "embedding" else ["score"],
        "dimensions": pooling.dimensions,
        "matryoshka": pooling.matryoshka,
        "endpoints": (
            ["/v1/embeddings", "/v1/rerank", "/v1/score"]
            if config.task == "embedding"
            else ["/v1/rerank", "/v1/score"]
        ),
        "supported_sampling_parameters": [],
        "supported_features": [],
        "quantization": quantization_label(served),
        "hugging_face_id": config.hugging_face_id
        or (config.model if not config.model.startswith(("/", ".")) else None),
        "pricing": dataclasses.asdict(config.pricing),
    }


def model_card(served: ServedModel, model_id: str | None = None) -> dict[str, Any]:
    if served.pooling is not None:
        return pooling_card(served, served.pooling.pooling, model_id)
    config = served.config
    return {
        "id": model_id or config.served_id,
        "object": "model",
        "created": served.created,
        "owned_by": config.owned_by,
        "context_length": served.context_length,
        "max_output_length": served.max_output_length,
        "input_modalities": ["text", "image"] if served.vision is not None else ["text"],
        "output_modalities": ["text"],
        "supported_sampling_parameters": list(SAMPLING_PARAMETERS),
        "supported_features": supported_features(served),
        "quantization": quantization_label(served),
        "hugging_face_id": config.hugging_face_id
        or (config.model if not config.model.startswith(("/", ".")) else None),
        "pricing": dataclasses.asdict(config.pricing),
    }
