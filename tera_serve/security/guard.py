"""What the routes call: the server's security state and each request's guard.

The middleware makes one RequestGuard per request and runs its finalizers when the whole
response (a streamed body included) has ended or the client has gone; routes use it to
check a model against the key's scope, take an admission slot and report token usage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.errors import PermissionDeniedError
from tera_serve.playground import PUBLIC_PATHS
from tera_serve.security.admission import AdmissionControl
from tera_serve.security.keys import STATIC_KEY_NAME, KeyRecord, KeyStore, hash_secret
from tera_serve.security.ratelimit import RateLimiter

logger = logging.getLogger(__name__)


class TokenCounts(Protocol):
    """What a finished request reports (the access-log RequestRecord fits)."""

    prompt_tokens: int
    completion_tokens: int


@dataclass
class SecurityState:
    """Per server: keys, per-key usage, per-model admission, and what is in flight."""

    keys: KeyStore | None
    limiter: RateLimiter
    admission: AdmissionControl
    body_timeout_s: float
    max_header_bytes: int
    public_paths: frozenset[str] = frozenset()
    """Paths served without a key even when keys are configured (the playground page)."""
    in_flight: int = 0

    @classmethod
    def from_config(cls, config: ServerConfig) -> SecurityState:
        return cls(
            keys=key_store(config),
            limiter=RateLimiter(),
            admission=AdmissionControl(
                config.max_running_per_model, config.max_queued_per_model, config.queue_timeout_s
            ),
            body_timeout_s=config.body_timeout_s,
            max_header_bytes=config.max_header_bytes,
            public_paths=PUBLIC_PATHS if config.playground else frozenset(),
        )


def key_store(config: ServerConfig) -> KeyStore | None:
    """None when no key is configured (then the server is open, loopback only by default)."""
    if config.api_key is None and config.keys_file is None:
        return None
    static: tuple[KeyRecord, ...] = ()
    if config.api_key is not None:
        static = (KeyRecord(name=STATIC_KEY_NAME, sha256=hash_secret(config.api_key)),)
    path = Path(config.keys_file).expanduser() if config.keys_file else None
    return KeyStore(path, static)


@dataclass
class RequestGuard:
    """One request's key, its token charges so far, and its clean-ups."""

    security: SecurityState
    key: KeyRecord | None
    charged_prompt_tokens: int = 0
    _finalizers: list[Callable[[], None]] = field(default_factory=list)

    def allows(self, model_id: str, models: Sequence[ModelConfig]) -> bool:
        return self.key is None or self.key.allows(model_id, models)

    def authorize_model(self, model_id: str, models: Sequence[ModelConfig]) -> None:
        """403 for a model outside the key's scope (served or not, so nothing leaks)."""
        if not self.allows(model_id, models):
            raise PermissionDeniedError(
                f"This API key may not use the model '{model_id}'.",
                param="model",
                code="model_not_allowed",
            )

    async def admit(self, model: str) -> None:
        """Take a running slot of `model` (or 503); freed when the response ends."""
        self.on_finish(await self.security.admission.acquire(model))

    def charge_prompt(self, tokens: int) -> None:
        """Prompt tokens, charged to the key as soon as the prompt is tokenized."""
        self.charged_prompt_tokens += tokens
        self._charge(tokens)

    def settle(self, usage: TokenCounts) -> None:
        """At the end of the response: the completion tokens (and any prompt not yet charged)."""
        self._charge(max(usage.prompt_tokens - self.charged_prompt_tokens, 0))
        self._charge(usage.completion_tokens)

    def _charge(self, tokens: int) -> None:
        if tokens > 0 and self.key is not None and self.key.tpm is not None:
            self.security.limiter.charge_tokens(self.key, tokens)

    def on_finish(self, finalizer: Callable[[], None]) -> None:
        self._finalizers.append(finalizer)

    def finish(self) -> None:
        while self._finalizers:
            finalizer = self._finalizers.pop()
            try:
                finalizer()
            except Exception:  # one failing clean-up must not skip the others
                logger.exception("request clean-up failed")
