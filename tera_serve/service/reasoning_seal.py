"""Sealed reasoning: the Responses API's `encrypted_content` on reasoning items.

A client that keeps no state on the server (`store: false`, as Codex runs) asks for
`include: ["reasoning.encrypted_content"]` and replays the reasoning items it received; the
server reads them back into the conversation, so the family's template puts the model's
reasoning where it belongs (gpt-oss wants the analysis of tool-call turns).

The blob is AES-256-GCM under a server key, with the model's served id (whichever alias
the request named) as associated data: a client can neither read nor forge one, and one
made for another model (or by another server) does not open. Layout, base64url without
padding: a version byte, the 12-byte random nonce, then the ciphertext and its 16-byte tag.

The key: `--reasoning-key-file PATH` (base64 of 32 bytes; replicas that serve one
conversation share it), else `reasoning.key` beside the response store, generated on
first use and readable by its owner only; with `--responses-store :memory:` a key of this
process only (a blob does not outlive it, as a stored response does not).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tera_serve.config import ServerConfig
from tera_serve.errors import ConfigError
from tera_serve.service.response_db import MEMORY
from tera_serve.service.response_store import default_store_file

logger = logging.getLogger(__name__)

KEY_FILE = "reasoning.key"
KEY_BYTES = 32
_VERSION = 1
_NONCE_BYTES = 12
_TAG_BYTES = 16
_AAD_PREFIX = b"tera-serve reasoning v1\x00"


class SealError(ValueError):
    """A blob that is not one this server sealed for this model."""


@dataclass(frozen=True)
class KeySource:
    path: Path | None
    """None: a key of this process only."""
    generate: bool
    """Create the file when it is missing (the default place), or require it (a flag)."""

    @classmethod
    def from_config(cls, config: ServerConfig) -> KeySource:
        if config.reasoning_key_file is not None:
            return cls(Path(config.reasoning_key_file).expanduser(), generate=False)
        if config.responses_store == MEMORY:
            return cls(None, generate=True)
        store = (
            Path(config.responses_store)
            if config.responses_store is not None
            else default_store_file()
        )
        return cls(store.parent / KEY_FILE, generate=True)


def _decode_key(text: str, path: Path) -> bytes:
    value = text.strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"the reasoning key file {path} must hold the base64 of {KEY_BYTES} random bytes "
            "(e.g. `openssl rand -base64 32`)"
        )
    return key


def _write_new_key(path: Path) -> None:
    """Create the key file, owner-only, atomically: replicas starting together on one
    store agree on the first file linked into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
            logger.info("reasoning key: generated %s", path)
    finally:
        temporary.unlink(missing_ok=True)


def load_key(source: KeySource) -> bytes:
    if source.path is None:
        return secrets.token_bytes(KEY_BYTES)
    path = source.path
    try:
        if source.generate and not path.exists():
            _write_new_key(path)
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot use the reasoning key file {path}: {exc}") from exc
    if mode & 0o077:
        logger.warning("reasoning key file %s is readable by other users: chmod 600 it", path)
    return _decode_key(text, path)


class ReasoningSeal:
    """Seals and opens reasoning text; the key is loaded once (at start-up, or on first
    use), then only read."""

    def __init__(self, source: KeySource) -> None:
        self._source = source
        self._cipher: AESGCM | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: ServerConfig) -> ReasoningSeal:
        return cls(KeySource.from_config(config))

    @property
    def location(self) -> str:
        """The key file (or `memory`), for logs."""
        return str(self._source.path) if self._source.path is not None else "memory"

    def open(self) -> None:
        """Load (or create) the key now, so that an unusable file stops the start-up."""
        self._opened()

    def _opened(self) -> AESGCM:
        with self._lock:
            if self._cipher is None:
                self._cipher = AESGCM(load_key(self._source))
            return self._cipher

    def seal(self, text: str, model: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._opened().encrypt(nonce, text.encode(), _AAD_PREFIX + model.encode())
        raw = bytes((_VERSION,)) + nonce + sealed
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def unseal(self, blob: str, model: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        except (binascii.Error, ValueError):
            raise SealError("it is not base64url") from None
        if len(raw) < 1 + _NONCE_BYTES + _TAG_BYTES or raw[0] != _VERSION:
            raise SealError("it is not a reasoning blob of this server")
        nonce, sealed = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
        try:
            text = self._opened().decrypt(nonce, sealed, _AAD_PREFIX + model.encode())
        except InvalidTag:
            raise SealError(
                "it was not sealed by this server for this model, or it was altered"
            ) from None
        return text.decode()
