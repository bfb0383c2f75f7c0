"""Served models at run time: each model's engine, prompt renderer, family and card."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tera_serve.chat.template import ChatTemplateRenderer
from tera_serve.config import POOLING_TASKS, ModelConfig
from tera_serve.engine.base import Engine
from tera_serve.engine.pooling import PoolingEngine
from tera_serve.errors import InvalidRequestError, ModelNotFoundError, ServiceUnavailableError
from tera_serve.families.base import FamilyProfile
from tera_serve.media.vision import VisionInputs
from tera_serve.service.pooling_family import not_generative


class ModelState(enum.Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass
class ServedModel:
    """One model as the service layer sees it once its engine is up."""

    config: ModelConfig
    engine: Engine
    renderer: ChatTemplateRenderer
    family: FamilyProfile
    created: int
    sampling_defaults: Mapping[str, float] = field(default_factory=dict)
    """Generation-config defaults merged with the config's `default_sampling`."""
    vision: VisionInputs | None = None
    """How the model takes images; None: a text-only model."""
    pooling: PoolingEngine | None = None
    """A pooling model's engine (embeddings, rerank, score; the same object as `engine`);
    None: a generative model."""

    @property
    def tokenizer(self) -> Any:
        return self.renderer.tokenizer

    @property
    def context_length(self) -> int:
        return min(self.config.context_length or 10**12, self.engine.info.max_model_len)

    @property
    def max_output_length(self) -> int:
        """The ceiling on every request's max_tokens, and what /v1/models advertises: the
        configured cap, or the whole context when the config sets none (as `vllm serve`)."""
        configured = self.config.max_output_length
        return min(configured or self.context_length, self.context_length)


@dataclass
class _Slot:
    config: ModelConfig
    state: ModelState = ModelState.LOADING
    model: ServedModel | None = None
    error: str | None = None


@dataclass
class ModelRegistry:
    """Routes a request's `model` id (or alias) to its served model."""

    _slots: dict[str, _Slot] = field(default_factory=dict)
    _by_id: dict[str, _Slot] = field(default_factory=dict)

    def add(self, config: ModelConfig) -> None:
        slot = _Slot(config=config)
        self._slots[config.served_id] = slot
        for model_id in config.all_ids:
            self._by_id[model_id] = slot

    def set_ready(self, served: ServedModel) -> None:
        slot = self._slots[served.config.served_id]
        slot.model, slot.state = served, ModelState.READY

    def set_failed(self, config: ModelConfig, error: str) -> None:
        slot = self._slots[config.served_id]
        slot.state, slot.error = ModelState.FAILED, error

    def get(self, model_id: str) -> ServedModel:
        slot = self._by_id.get(model_id)
        if slot is None:
            raise ModelNotFoundError(model_id)
        if slot.model is None:
            reason = "is still loading" if slot.state is ModelState.LOADING else "failed to load"
            raise ServiceUnavailableError(
                f"The model '{model_id}' {reason}; try again later.",
                code="model_unavailable",
                headers={"Retry-After": "10"},
            )
        return slot.model

    def check_generative(self, model_id: str) -> None:
        """A pooling model (embedding, rerank) generates no text: a 400 naming it, before
        a loading model's 503 (the config says which task a model has)."""
        slot = self._by_id.get(model_id)
        if slot is not None and slot.config.task in POOLING_TASKS:
            raise not_generative(model_id, slot.config.task)

    def get_pooling(self, model_id: str, route: str) -> tuple[ServedModel, PoolingEngine]:
        """The pooling model an id names; a generative model is a 400 naming it (checked
        before a loading model's 503: the config says which task a model has)."""
        slot = self._by_id.get(model_id)
        if slot is not None and slot.config.task not in POOLING_TASKS:
            raise InvalidRequestError(
                f"The model '{model_id}' is a {slot.config.task} model; it does not serve "
                f"{route}. Pick a model whose task is embedding (GET /v1/models).",
                param="model",
                code="model_not_supported",
            )
        served = self.get(model_id)
        if served.pooling is None:
            raise InvalidRequestError(
                f"The model '{model_id}' does not serve {route}.",
                param="model",
                code="model_not_supported",
            )
        return served, served.pooling

    def canonical_id(self, model_id: str) -> str:
        """The served id an id or alias names (what a model-bound secret is bound to); an
        id no model answers to stays as it is (the lookup that serves it is the 404)."""
        slot = self._by_id.get(model_id)
        return slot.config.served_id if slot is not None else model_id

    def ready_models(self) -> list[ServedModel]:
        return [slot.model for slot in self._slots.values() if slot.model is not None]

    def states(self) -> dict[str, ModelState]:
        return {model_id: slot.state for model_id, slot in self._slots.items()}

    def default_id(self) -> str | None:
        """The single served model's id, for endpoints where `model` is optional."""
        return next(iter(self._slots)) if len(self._slots) == 1 else None

    def all_ready(self) -> bool:
        return bool(self._slots) and all(
            slot.state is ModelState.READY
            and slot.model is not None
            and slot.model.engine.is_healthy()
            for slot in self._slots.values()
        )
