"""What the routes share: the config, the model registry, and the server's lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field

from tera_serve.config import ServerConfig
from tera_serve.metrics import Metrics
from tera_serve.security.guard import SecurityState
from tera_serve.service.loading import EngineFactory
from tera_serve.service.reasoning_seal import ReasoningSeal
from tera_serve.service.registry import ModelRegistry
from tera_serve.service.response_store import ResponseStore
from tera_serve.speech.registry import SpeechModels


@dataclass
class ServerContext:
    config: ServerConfig
    engine_factory: EngineFactory
    registry: ModelRegistry = field(default_factory=ModelRegistry)
    metrics: Metrics = field(default_factory=Metrics)
    draining: bool = False
    """Set on SIGTERM: new requests get 503 while in-flight ones finish."""
    engine_failed: bool = False
    """Set when an engine dies: /health turns 503 and the process exits non-zero."""
    security: SecurityState = field(init=False)
    """Keys, per-key limits, admission control; built from `config`."""
    speech: SpeechModels = field(init=False)
    """The speech models (`task: speech`), beside the chat models of `registry`."""
    responses: ResponseStore = field(init=False)
    """The Responses API's stored responses (opened at start-up, or on first use)."""
    reasoning_seal: ReasoningSeal = field(init=False)
    """Seals the Responses API's `encrypted_content` (its key: at start-up, or first use)."""

    def __post_init__(self) -> None:
        self.security = SecurityState.from_config(self.config)
        self.speech = SpeechModels(self.metrics.registry, self.config.models)
        self.responses = ResponseStore.from_config(self.config)
        self.reasoning_seal = ReasoningSeal.from_config(self.config)
