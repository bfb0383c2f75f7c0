"""What the routes call: the server's security state and each request's guard.

The middleware makes one RequestGuard per request and runs its finalizers when the whole
response (a streamed body included) has ended or the client has gone; routes use it to
check a model against the key's scope, take admission slots for the request's sequences,
and reserve its tokens (settled to the real usage when it ends).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tera_serve.bounded_work import KillableRunner, Workers, WorkPool
from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.errors import ConfigError, PermissionDeniedError
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
    workers: Workers
    """The bounded CPU pool (and the template sandbox) request code offloads to."""
    public_paths: frozenset[str] = frozenset()
    """Paths served without a key even when keys are configured (the playground page)."""
    in_flight: int = 0

    @classmethod
    def from_config(cls, config: ServerConfig) -> SecurityState:
        return cls(
            keys=key_store(config),
            workers=workers_for(config),
            limiter=RateLimiter(),
            admission=AdmissionControl(
                config.max_running_per_model, config.max_queued_per_model, config.queue_timeout_s
            ),
            body_timeout_s=config.body_timeout_s,
            max_header_bytes=config.max_header_bytes,
            public_paths=PUBLIC_PATHS if config.playground else frozenset(),
        )


SANDBOX_MEMORY_BYTES = 512 * 1024 * 1024
"""Address space a request chat template's worker may add to what it starts with."""


def workers_for(config: ServerConfig) -> Workers:
    threads = config.cpu_workers or min(os.cpu_count() or 2, 4)
    pool = WorkPool(threads, config.cpu_queue, config.cpu_work_timeout_s)
    sandbox = None
    if config.allow_request_chat_template:
        from tera_serve.chat.template_sandbox import SANDBOX_PRELOAD

        sandbox = KillableRunner(
            max_jobs=threads,
            deadline_s=config.cpu_work_timeout_s,
            memory_bytes=SANDBOX_MEMORY_BYTES,
            preload=SANDBOX_PRELOAD,
        )
    return Workers(pool, sandbox)


def static_secret(config: ServerConfig) -> str | None:
    """The single key of --api-key or --api-key-file (the file's first line)."""
    if config.api_key is not None:
        return config.api_key
    if config.api_key_file is None:
        return None
    path = Path(config.api_key_file).expanduser()
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --api-key-file {path}: {exc}") from exc
    if not secret or "\n" in secret:
        raise ConfigError(f"--api-key-file {path} must hold one key on one line")
    return secret


def key_store(config: ServerConfig) -> KeyStore | None:
    """None when no key is configured (then the server is open, loopback only by default)."""
    secret = static_secret(config)
    if secret is None and config.keys_file is None:
        return None
    static: tuple[KeyRecord, ...] = ()
    if secret is not None:
        # The operator's own key: every model, and the admin routes (/metrics).
        source = (
            f"--api-key-file {config.api_key_file}"
            if config.api_key_file is not None
            else "--api-key (or TERA_API_KEY)"
        )
        static = (
            KeyRecord(
                name=STATIC_KEY_NAME,
                sha256=hash_secret(secret),
                scopes=("admin",),
                source=source,
            ),
        )
    path = Path(config.keys_file).expanduser() if config.keys_file else None
    # Refuses a keys-file entry that shares the static key's name or secret (ConfigError).
    return KeyStore(path, static)


@dataclass
class RequestGuard:
    """One request's key, its token reservation, and its clean-ups."""

    security: SecurityState
    key: KeyRecord | None
    limits_apply: bool = True
    """False on the open routes (/health), where a key only unlocks details."""
    reserved_tokens: int = 0
    reserved_prompt_tokens: int = 0
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

    async def admit(self, model: str, sequences: int = 1) -> None:
        """Count the request's sequences against the key's concurrency (429) and take that
        many running slots of `model` (or 503); both freed when the response ends."""
        key, limiter = self.key, self.security.limiter
        if key is not None and key.max_concurrency is not None:
            extra = min(sequences, key.max_concurrency) - 1
            limiter.add_sequences(key, extra)
            if extra > 0:
                self.on_finish(lambda: limiter.release(key, extra))
        self.on_finish(await self.security.admission.acquire(model, sequences))

    def reserve(self, prompt_tokens: int, max_new_tokens: int) -> None:
        """Before generation: hold the most this request can use against the key's tpm."""
        self.reserved_prompt_tokens = prompt_tokens
        if self.key is None or self.key.tpm is None or not self.limits_apply:
            return
        tokens = prompt_tokens + max_new_tokens
        self.security.limiter.reserve_tokens(self.key, tokens)
        self.reserved_tokens = tokens

    def settle(self, usage: TokenCounts) -> None:
        """At the end of the response (an abort included): charge what was really used."""
        used = max(usage.prompt_tokens, self.reserved_prompt_tokens) + usage.completion_tokens
        if self.key is None or self.key.tpm is None:
            return
        self.security.limiter.settle_tokens(self.key, self.reserved_tokens, used)
        self.reserved_tokens = 0

    def on_finish(self, finalizer: Callable[[], None]) -> None:
        self._finalizers.append(finalizer)

    def finish(self) -> None:
        while self._finalizers:
            finalizer = self._finalizers.pop()
            try:
                finalizer()
            except Exception:  # one failing clean-up must not skip the others
                logger.exception("request clean-up failed")
