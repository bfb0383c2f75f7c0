"""API keys: `sk-tera-<random>` secrets, stored only as sha256 hashes, compared in constant time.

The keys file is YAML or JSON (JSON is read as YAML; it is written as JSON when the name
ends in `.json`):

    keys:
      - name: alice
        sha256: 5e88...     # sha256 of the secret, hex
        models: [Qwen/Qwen3.5-4B]   # optional scope; absent or null: every model
        rpm: 60             # optional limits: requests / tokens per minute, concurrency
        tpm: 100000
        max_concurrency: 4
        scopes: [admin]     # optional: admin may read /metrics

An empty file, or one that does not parse, never revokes anything: the server keeps the
keys it had (an editor may have truncated the file to rewrite it). Revoking every key is
an explicit `keys: []`. Neither are two keys that share a name or a secret (the file's
entries and the `--api-key` key, which is named `api-key`, together): the server refuses to
start, or keeps the keys it had, and says which two.

A key's *identity* (what owns its stored responses and its limits) is its secret's hash,
not its name (DESIGN rule 12): names are for logs and metrics.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tera_serve.config import ModelConfig
from tera_serve.errors import ConfigError

logger = logging.getLogger(__name__)

SECRET_PREFIX = "sk-tera-"
STATIC_KEY_NAME = "api-key"
"""The name the single `--api-key` key carries in logs."""
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_LIMITS = ("rpm", "tpm", "max_concurrency")
_FIELDS = frozenset({"name", "sha256", "models", *_LIMITS, "scopes", "created", "hint"})
_IDENTITY_DOMAIN = b"tera-serve key identity\0"
SCOPES = ("admin",)
"""Extra powers a key may carry: `admin` reads /metrics (every model's traffic)."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    """One key as the server sees it: never the secret, only its hash."""

    name: str
    sha256: str
    models: tuple[str, ...] | None = None
    """Model ids this key may use (aliases of a listed model count too); None: all."""
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    scopes: tuple[str, ...] = ()
    created: str | None = None
    hint: str | None = None
    """The secret's last four characters, to tell keys apart in `keys list`."""
    source: str = field(default="", compare=False)
    """Where the key comes from, for error messages (never written to the file)."""

    @functools.cached_property
    def identity(self) -> str:
        """What owns the key's stored responses and limit buckets: derived from its secret's
        whole hash, so two keys never share one, whatever their names or sources. A rotated
        key (a new secret under the same name) is a new identity: it starts with fresh
        limits and cannot read what the old secret stored. Domain-separated from `sha256`,
        the value secrets are checked against, so the response store never holds it."""
        return "key:" + hashlib.sha256(_IDENTITY_DOMAIN + self.sha256.encode()).hexdigest()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def allows(self, model_id: str, models: Sequence[ModelConfig]) -> bool:
        if self.models is None or model_id in self.models:
            return True
        scope = set(self.models)
        return any(model_id in m.all_ids and scope.intersection(m.all_ids) for m in models)

    def to_mapping(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "sha256": self.sha256}
        if self.models is not None:
            out["models"] = list(self.models)
        for limit in _LIMITS:
            if getattr(self, limit) is not None:
                out[limit] = getattr(self, limit)
        if self.scopes:
            out["scopes"] = list(self.scopes)
        if self.created:
            out["created"] = self.created
        if self.hint:
            out["hint"] = self.hint
        return out


def record_from_mapping(raw: Any, where: str) -> KeyRecord:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: each key must be a mapping")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown fields {unknown}")
    name, digest = raw.get("name"), raw.get("sha256")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: `name` must be 1-64 letters, digits or _.@-")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise ConfigError(f"{where}: `sha256` must be 64 lowercase hex digits")
    models = raw.get("models")
    if models is not None and (
        not isinstance(models, list) or not all(isinstance(m, str) and m for m in models)
    ):
        raise ConfigError(f"{where}: `models` must be a list of model ids")
    scopes = raw.get("scopes") or []
    if not isinstance(scopes, list) or any(scope not in SCOPES for scope in scopes):
        raise ConfigError(f"{where}: `scopes` must be a list of {list(SCOPES)}")
    limits: dict[str, int | None] = {}
    for limit in _LIMITS:
        value = raw.get(limit)
        if value is not None and (type(value) is not int or value < 1):
            raise ConfigError(f"{where}: `{limit}` must be a positive integer")
        limits[limit] = value
    return KeyRecord(
        name=name,
        sha256=digest,
        models=tuple(models) if models is not None else None,
        scopes=tuple(scopes),
        created=str(raw["created"]) if raw.get("created") is not None else None,
        hint=str(raw["hint"]) if raw.get("hint") is not None else None,
        source=where,
        **limits,
    )


def read_keys_file(path: Path) -> tuple[KeyRecord, ...]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read keys file {path}: {exc}") from exc
    if raw is None:
        # Mid-write, or a mistake: never "no keys" (that is an explicit `keys: []`).
        raise ConfigError(f"{path} is empty; write `keys: []` to revoke every key")
    if not isinstance(raw, dict) or not isinstance(raw.get("keys"), list):
        raise ConfigError(f"{path}: expected a mapping with a `keys` list")
    records = tuple(
        record_from_mapping(item, f"{path}: keys[{i}]")
        for i, item in enumerate(raw.get("keys") or [])
    )
    check_distinct(records)
    return records


def check_distinct(records: Sequence[KeyRecord]) -> None:
    """ConfigError naming both keys when two share a name (logs, metrics and `keys revoke`
    would take one for the other) or a secret (one of them could never be told apart)."""
    by_name: dict[str, KeyRecord] = {}
    by_hash: dict[str, KeyRecord] = {}
    for record in records:
        first = by_name.setdefault(record.name, record)
        if first is not record:
            static = f" (the --api-key key is always named {STATIC_KEY_NAME!r})"
            raise ConfigError(
                f"two keys are named {record.name!r}: {first.source or 'one'} and "
                f"{record.source or 'another'}; give each key a name of its own"
                + (static if record.name == STATIC_KEY_NAME else "")
            )
        first = by_hash.setdefault(record.sha256, record)
        if first is not record:
            raise ConfigError(
                f"two keys have the same secret: {first.name!r} ({first.source or 'one'}) and "
                f"{record.name!r} ({record.source or 'another'}); give each key its own secret"
            )


def write_keys_file(path: Path, records: Sequence[KeyRecord]) -> None:
    """Atomic replace, owner-only permissions (hashes are not secrets, but scopes are policy)."""
    data = {"keys": [r.to_mapping() for r in records]}
    if path.suffix == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        header = "# tera-serve API keys: sha256 hashes only (`tera-serve keys --help`).\n"
        text = header + yaml.safe_dump(data, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class KeyStore:
    """The keys a server accepts; re-reads its file when the file changes (or on `reload()`).

    A file that is empty or stops parsing keeps the last good keys (an editor may be
    mid-write); `keys: []` or a file that disappears revokes every key it held.
    """

    def __init__(
        self,
        path: Path | None,
        static: Sequence[KeyRecord] = (),
        *,
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._static = tuple(static)
        self._interval = check_interval_s
        self._clock = clock
        self._checked_at = clock()
        self._signature: tuple[int, int, int] | None = None
        self._records: tuple[KeyRecord, ...] = ()
        if path is not None:
            if not path.is_file():
                raise ConfigError(
                    f"keys file {path} does not exist; create a key with "
                    f"`tera-serve keys create --name NAME --keys-file {path}`"
                )
            self._signature = _signature(path)
            self._records = read_keys_file(path)
        check_distinct(self._static + self._records)

    @property
    def records(self) -> tuple[KeyRecord, ...]:
        self._maybe_reload()
        return self._static + self._records

    def authenticate(self, secret: str | None) -> KeyRecord | None:
        """The record whose hash matches; every record is compared, in constant time each."""
        if not secret:
            return None
        digest = hash_secret(secret)
        found: KeyRecord | None = None
        for record in self.records:
            if hmac.compare_digest(record.sha256, digest) and found is None:
                found = record
        return found

    def reload(self) -> None:
        if self._path is None:
            return
        self._checked_at = self._clock()
        signature = _signature(self._path)
        if signature is None:
            if self._records:
                logger.warning("keys file %s is gone: every key it held is revoked", self._path)
            self._signature, self._records = None, ()
            return
        try:
            records = read_keys_file(self._path)
            check_distinct(self._static + records)
        except ConfigError as exc:
            self._signature = signature  # retry on the next change, not every second
            logger.error("keeping the previous keys: %s", exc)
            return
        self._signature, self._records = signature, records
        logger.info("loaded %d API keys from %s", len(records), self._path)

    def _maybe_reload(self) -> None:
        if self._path is None or self._clock() - self._checked_at < self._interval:
            return
        self._checked_at = self._clock()
        if _signature(self._path) != self._signature:
            self.reload()
