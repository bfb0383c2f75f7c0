"""Start one model: its engine, tokenizer, chat template renderer and family."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from tera_serve.chat.template import ChatTemplateRenderer
from tera_serve.config import SAMPLING_DEFAULT_KEYS, ModelConfig
from tera_serve.engine.base import Engine
from tera_serve.errors import ConfigError
from tera_serve.families.base import FamilyProfile
from tera_serve.families.registry import resolve_family
from tera_serve.media.vision import load_vision_inputs
from tera_serve.service.registry import ServedModel

logger = logging.getLogger(__name__)

EngineFactory = Callable[[ModelConfig, FamilyProfile], Engine]
"""Starts the engine for a model; the family tells it which reasoning parser guides grammars."""


def read_chat_template(value: str | None) -> str | None:
    """A template given as a file path is read; anything else is the template itself."""
    if value is None:
        return None
    if "{" not in value and len(value) < 4096:
        path = Path(value).expanduser()
        if not path.is_file():
            raise ConfigError(f"chat template file {value} does not exist")
        return path.read_text()
    return value


def load_tokenizer(config: ModelConfig) -> object:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(config.tokenizer or config.model)


def load_hf_config(config: ModelConfig) -> object:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(config.model)


def sampling_defaults(config: ModelConfig, model_path: str) -> dict[str, float]:
    """The model's generation_config.json sampling values, overridden by the config's."""
    defaults: dict[str, float] = {}
    path = Path(model_path) / "generation_config.json"
    if path.is_file():
        try:
            raw = json.loads(path.read_text())
        except ValueError:
            raw = {}
        if isinstance(raw, dict):
            defaults = {
                k: float(v)
                for k, v in raw.items()
                if k in SAMPLING_DEFAULT_KEYS and isinstance(v, int | float)
            }
    defaults.update({k: float(v) for k, v in config.default_sampling.items()})
    return defaults


def load_served_model(config: ModelConfig, engine_factory: EngineFactory) -> ServedModel:
    started = time.monotonic()
    # The family is known before the engine starts: it picks vLLM's reasoning parser, so
    # grammars of reasoning models apply only after the reasoning ends.
    tokenizer = load_tokenizer(config)
    template = read_chat_template(config.chat_template)
    renderer = ChatTemplateRenderer(tokenizer, template)
    hf_config = load_hf_config(config)
    family = resolve_family(
        hf_config,
        template or getattr(tokenizer, "chat_template", None),
        reasoning_parser=config.reasoning_parser,
        tool_call_parser=config.tool_call_parser,
    )
    engine = engine_factory(config, family)
    vision = load_vision_inputs(engine.info.model_path, hf_config, tokenizer, config.engine_args)
    logger.info(
        "model %s ready in %.1f s (context %d, family %s, reasoning %s, tools %s, images %s)",
        config.served_id,
        time.monotonic() - started,
        engine.info.max_model_len,
        family.name,
        family.reasoning_parser or "none",
        family.tool_call_parser or "none",
        "yes" if vision else "no",
    )
    return ServedModel(
        config=config,
        engine=engine,
        renderer=renderer,
        family=family,
        created=int(time.time()),
        sampling_defaults=sampling_defaults(config, engine.info.model_path),
        vision=vision,
    )
