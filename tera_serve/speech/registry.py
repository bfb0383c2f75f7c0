"""Speech models at run time: their engines, load states and /v1/models cards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from tera_serve.config import ModelConfig
from tera_serve.errors import InvalidRequestError, ModelNotFoundError, ServiceUnavailableError
from tera_serve.protocol.speech import MAX_INPUT_CHARS
from tera_serve.speech.assets import resolve_model_folder
from tera_serve.speech.encoders import FORMATS
from tera_serve.speech.engine import SAMPLE_RATE, KokoroEngine
from tera_serve.speech.metrics import SpeechMetrics

logger = logging.getLogger(__name__)

SPEECH_TASK = "speech"


@dataclass
class ServedSpeech:
    config: ModelConfig
    engine: KokoroEngine
    created: int


@dataclass
class _Slot:
    config: ModelConfig
    state: str = "loading"
    model: ServedSpeech | None = None


def start_kokoro(config: ModelConfig) -> KokoroEngine:
    folder = resolve_model_folder(config.model)
    return KokoroEngine.start(folder, config.engine_args, f"{config.served_id}.engine_args")


SpeechEngineFactory = Callable[[ModelConfig], KokoroEngine]


@dataclass
class SpeechModels:
    """The speech models of the catalog (chat models live in the service registry)."""

    metrics_registry: CollectorRegistry
    all_models: Sequence[ModelConfig] = ()
    engine_factory: SpeechEngineFactory = start_kokoro
    metrics: SpeechMetrics = field(init=False)
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _by_id: dict[str, _Slot] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metrics = SpeechMetrics(self.metrics_registry)
        for config in self.all_models:
            if config.task == SPEECH_TASK:
                slot = _Slot(config)
                self._slots[config.served_id] = slot
                self._by_id.update(dict.fromkeys(config.all_ids, slot))

    def is_speech(self, model_id: str) -> bool:
        return model_id in self._by_id

    def check_text_model(self, model_id: str) -> None:
        """A text endpoint (chat, completions) asked for a speech model: 400."""
        if model_id in self._by_id:
            raise InvalidRequestError(
                f"The model '{model_id}' is a speech model; use POST /v1/audio/speech.",
                param="model",
                code="model_not_supported",
            )

    def get(self, model_id: str) -> ServedSpeech:
        slot = self._by_id.get(model_id)
        if slot is None:
            if any(model_id in m.all_ids for m in self.all_models):
                raise InvalidRequestError(
                    f"The model '{model_id}' does not produce audio; pick a model whose "
                    "output_modalities include audio (GET /v1/models).",
                    param="model",
                    code="model_not_supported",
                )
            raise ModelNotFoundError(model_id)
        if slot.model is None:
            reason = "is still loading" if slot.state == "loading" else "failed to load"
            raise ServiceUnavailableError(
                f"The model '{model_id}' {reason}; try again later.",
                code="model_unavailable",
                headers={"Retry-After": "10"},
            )
        return slot.model

    async def load_all(self, on_ready: Callable[[str], None]) -> None:
        for served_id, slot in self._slots.items():
            try:
                engine = await asyncio.to_thread(self.engine_factory, slot.config)
            except Exception:
                logger.exception("speech model %s failed to load", served_id)
                slot.state = "failed"
                continue
            slot.model = ServedSpeech(slot.config, engine, int(time.time()))
            slot.state = "ready"
            on_ready(served_id)

    def ready(self) -> list[ServedSpeech]:
        return [slot.model for slot in self._slots.values() if slot.model is not None]

    def states(self) -> dict[str, str]:
        return {served_id: slot.state for served_id, slot in self._slots.items()}

    def all_ready(self) -> bool:
        return all(
            slot.model is not None and slot.model.engine.is_healthy()
            for slot in self._slots.values()
        )

    def cards(self, allows: Callable[[str], bool]) -> list[dict[str, Any]]:
        """/v1/models entries of the ready speech models, under every id the key may use."""
        return [
            speech_card(served, model_id)
            for served in self.ready()
            for model_id in served.config.all_ids
            if allows(model_id)
        ]

    def card(self, model_id: str) -> dict[str, Any]:
        return speech_card(self.get(model_id), model_id)

    async def close(self) -> None:
        for served in self.ready():
            with contextlib.suppress(Exception):
                await served.engine.close()


def speech_card(served: ServedSpeech, model_id: str | None = None) -> dict[str, Any]:
    """A /v1/models entry: text in, audio out, with the voices and formats it offers."""
    config = served.config
    return {
        "id": model_id or config.served_id,
        "object": "model",
        "created": served.created,
        "owned_by": config.owned_by,
        "context_length": MAX_INPUT_CHARS,
        "max_output_length": 0,
        "input_modalities": ["text"],
        "output_modalities": ["audio"],
        "supported_sampling_parameters": [],
        "supported_features": [],
        "quantization": config.quantization or "int8",
        "hugging_face_id": config.hugging_face_id,
        "pricing": {
            "input": config.pricing.input,
            "output": config.pricing.output,
            "cache_read": config.pricing.cache_read,
        },
        "voices": served.engine.voices.offered(),
        "response_formats": list(FORMATS),
        "sample_rate": SAMPLE_RATE,
    }
