"""The stored responses' SQLite database: schema, bounds and queries (synchronous).

One `ResponseDb` is one sqlite3 connection, used only by the thread that opened it
(`service/response_store.py` runs every call on its own thread, off the event loop). Rows
hold already-encoded JSON, so the database never needs to know the response's shape.

Bounds: a row is deleted `max_age_s` after it was created (wall-clock time, so it holds
across restarts and across processes sharing the file), and when a new row makes the store
exceed `max_responses` rows or `max_bytes` of JSON, the oldest rows go first. A `totals`
row kept by triggers makes the size check one read; it changes in the same transaction as
the rows, so processes sharing the file never disagree about it.

Several processes may share one file: it is in WAL mode (readers never block the writer),
every write is one `BEGIN IMMEDIATE` transaction (no lock upgrade that could deadlock), and
a writer waits up to `BUSY_TIMEOUT_S` for another's lock. That needs a local disk: SQLite's
locks are not reliable on network filesystems (NFS, SMB).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tera_serve.errors import ConfigError

logger = logging.getLogger(__name__)

MEMORY = ":memory:"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 5.0
"""How long a write waits for another process's write lock before it fails."""
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
"""The write-ahead log is truncated back to this after a checkpoint."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    owner TEXT,
    created_at REAL NOT NULL,
    size INTEGER NOT NULL,
    response BLOB NOT NULL,
    input_items BLOB NOT NULL,
    history BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_by_age ON responses (created_at);
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    responses INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals VALUES (0, 0, 0);
CREATE TRIGGER IF NOT EXISTS responses_added AFTER INSERT ON responses BEGIN
    UPDATE totals SET responses = responses + 1, bytes = bytes + NEW.size;
END;
CREATE TRIGGER IF NOT EXISTS responses_removed AFTER DELETE ON responses BEGIN
    UPDATE totals SET responses = responses - 1, bytes = bytes - OLD.size;
END;
"""


@dataclass(frozen=True)
class StoreLimits:
    max_age_s: float
    max_responses: int
    max_bytes: int


@dataclass(frozen=True)
class Row:
    """One stored response, its JSON still encoded."""

    created_at: float
    response: bytes
    input_items: bytes
    history: bytes


class ResponseDb:
    def __init__(
        self, path: str, limits: StoreLimits, clock: Callable[[], float] = time.time
    ) -> None:
        self._limits = limits
        self._clock = clock
        try:
            if path != MEMORY:
                _create_private(Path(path))
            self._conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the responses store {path}: {exc}") from exc
        try:
            self._setup(path)
        except sqlite3.Error as exc:
            self._conn.close()
            raise ConfigError(f"cannot use the responses store {path}: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    def _setup(self, path: str) -> None:
        conn = self._conn
        if path != MEMORY:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"WAL mode refused (journal_mode={mode})")
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        # NORMAL in WAL mode: a crash of the process loses nothing; a power cut may lose the
        # last few responses, never the file.
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._write():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this tera-serve's {SCHEMA_VERSION}"
                )
            for statement in _statements(_SCHEMA):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._expire()

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction, holding the write lock from its start."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def put(
        self,
        response_id: str,
        owner: str | None,
        response: bytes,
        input_items: bytes,
        history: bytes,
    ) -> bool:
        """Store one response; False when it alone is over the byte bound (not kept)."""
        size = len(response) + len(input_items) + len(history)
        if size > self._limits.max_bytes:
            logger.warning(
                "response %s not stored: %d bytes, over the store's bound of %d",
                response_id,
                size,
                self._limits.max_bytes,
            )
            return False
        with self._write():
            self._expire()
            self._conn.execute(
                "INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
                (response_id, owner, self._clock(), size, response, input_items, history),
            )
            self._evict()
        return True

    def get(self, response_id: str, owner: str | None) -> Row | None:
        """The response if `owner` created it and it has not expired."""
        found = self._conn.execute(
            "SELECT created_at, response, input_items, history FROM responses "
            "WHERE id = ? AND owner IS ? AND created_at >= ?",
            (response_id, owner, self._clock() - self._limits.max_age_s),
        ).fetchone()
        return Row(*found) if found is not None else None

    def delete(self, response_id: str, owner: str | None) -> bool:
        with self._write():
            deleted = self._conn.execute(
                "DELETE FROM responses WHERE id = ? AND owner IS ? AND created_at >= ?",
                (response_id, owner, self._clock() - self._limits.max_age_s),
            ).rowcount
        return deleted > 0

    def totals(self) -> tuple[int, int]:
        """(responses, bytes) stored."""
        responses, stored = self._conn.execute("SELECT responses, bytes FROM totals").fetchone()
        return int(responses), int(stored)

    def close(self) -> None:
        self._conn.close()

    def _expire(self) -> None:
        cutoff = self._clock() - self._limits.max_age_s
        self._conn.execute("DELETE FROM responses WHERE created_at < ?", (cutoff,))

    def _evict(self) -> None:
        """Delete the oldest rows until both bounds hold (inside the put's transaction)."""
        count, stored = self.totals()
        extra_rows = count - self._limits.max_responses
        extra_bytes = stored - self._limits.max_bytes
        if extra_rows <= 0 and extra_bytes <= 0:
            return
        victims: list[tuple[str]] = []
        cursor = self._conn.execute("SELECT id, size FROM responses ORDER BY created_at, rowid")
        for response_id, size in cursor:
            if len(victims) >= extra_rows and extra_bytes <= 0:
                break
            victims.append((response_id,))
            extra_bytes -= size
        cursor.close()
        self._conn.executemany("DELETE FROM responses WHERE id = ?", victims)


def _statements(script: str) -> list[str]:
    """The script's statements (a trigger's body holds `;`s: split on complete ones)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


def _create_private(path: Path) -> None:
    """Create the file readable by its owner only (it holds users' conversations); SQLite
    gives its -wal and -shm files the same mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
