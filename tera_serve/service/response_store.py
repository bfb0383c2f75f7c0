"""Stored responses for `previous_response_id` and GET/DELETE /v1/responses/{id}.

An embedded SQLite database (`service/response_db.py`): by default the file
`responses.sqlite3` in the tera-serve cache folder, or `--responses-store PATH`, or
`:memory:` (this process only, gone on exit). Bounded by age (from creation) and by count
and bytes (the oldest go first), and scoped to the API key that created each response:
another key sees a 404, as if it did not exist.

Never on the event loop: every database call, and the JSON encoding and decoding around it,
runs on the store's one worker thread, which owns the sqlite3 connection (connections are
bound to their thread, and SQLite serialises writers anyway, so more threads would only
wait on its lock). It is a thread of its own rather than the server's CPU pool because a
store call may wait on disk or, with replicas sharing the file, on another process's write
lock (up to `BUSY_TIMEOUT_S`): that wait must not hold a CPU worker that tokenization needs.
The thread's backlog is bounded (a 503 past it) and every call has a deadline. A stored
response costs one call (~0.1 ms of CPU: one thread hop, one small transaction), about
0.3 µs per token of a 256-token answer.

Replicas: processes on one host may point `--responses-store` at one file on a local disk
(WAL mode: readers never block the writer; writers take turns within the busy timeout).
Network filesystems (NFS, SMB) do not give SQLite reliable locks and can corrupt the file:
across hosts, route a conversation's requests to one replica (sticky sessions), or have
clients send the whole history with `store: false`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from tera_serve.bounded_work import busy_error
from tera_serve.config import ServerConfig
from tera_serve.core.conversation import Message
from tera_serve.default_model import cache_root
from tera_serve.errors import NotFoundError
from tera_serve.service.conversation_codec import messages_from_json, messages_to_json
from tera_serve.service.response_db import BUSY_TIMEOUT_S, ResponseDb, StoreLimits

T = TypeVar("T")

STORE_FILE = "responses.sqlite3"
MAX_WAITING = 1024
"""Store calls that may wait for the store's thread; past it, 503 with Retry-After."""
DEADLINE_S = 3 * BUSY_TIMEOUT_S
"""Longest a store call may wait and run (a few busy timeouts of a contended file)."""


def store_path(configured: str | None) -> str:
    """The configured path, or the default file in the cache folder (created on demand)."""
    if configured is not None:
        return configured
    path = default_store_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(path)


def default_store_file() -> Path:
    """Where the store is when `--responses-store` is not given."""
    return cache_root() / STORE_FILE


class _StoreThread:
    """Calls on one dedicated thread, each awaited under a deadline; a bounded backlog.

    Lighter than `bounded_work.WorkPool` (one loop wake-up per call, not two: a store call
    rides on every stored response's last frame). A call abandoned at its deadline is
    cancelled if it has not started; one that has started finishes on the thread."""

    def __init__(self, max_waiting: int, deadline_s: float) -> None:
        # One worker: the thread that opens the connection is the only one that uses it.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tera-responses")
        self._max_waiting = max_waiting
        self._deadline_s = deadline_s
        self._waiting = 0

    async def run(self, fn: Callable[..., T], *args: Any, what: str) -> T:
        if self._waiting >= self._max_waiting:
            raise busy_error(what, f"{self._waiting} response store calls ahead")
        self._waiting += 1
        try:
            async with asyncio.timeout(self._deadline_s):
                return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except TimeoutError:
            raise busy_error(
                what, f"the response store did not answer within {self._deadline_s:g} s"
            ) from None
        finally:
            self._waiting -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class StoredResponse:
    owner: str | None
    """The name of the key that created it (None on a server without keys)."""
    response: dict[str, Any]
    input_items: tuple[dict[str, Any], ...]
    history: tuple[Message, ...]
    """The conversation up to and including this response's output (no `instructions`)."""
    created_at: float
    """Wall-clock time it was stored; it expires `max_age_s` later."""


class ResponseStore:
    """The database behind one thread; every method is awaited by route code."""

    def __init__(
        self,
        path: str | None,
        limits: StoreLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._configured = path
        self._limits = limits
        self._clock = clock
        self._thread = _StoreThread(MAX_WAITING, DEADLINE_S)
        self._db: ResponseDb | None = None
        self._closed = False

    @classmethod
    def from_config(cls, config: ServerConfig) -> ResponseStore:
        return cls(
            config.responses_store,
            StoreLimits(
                max_age_s=config.responses_store_max_age_s,
                max_responses=config.responses_store_max_responses,
                max_bytes=config.responses_store_max_bytes,
            ),
        )

    @property
    def location(self) -> str:
        """The database's path (or `:memory:`), for logs."""
        return self._configured if self._configured is not None else str(default_store_file())

    async def _run(self, fn: Callable[..., T], *args: Any, what: str) -> T:
        return await self._thread.run(fn, *args, what=what)

    def _opened(self) -> ResponseDb:
        """On the store's thread: the connection, opened on first use."""
        if self._closed:
            raise RuntimeError("the response store is closed")
        if self._db is None:
            self._db = ResponseDb(store_path(self._configured), self._limits, self._clock)
        return self._db

    async def open(self) -> None:
        """Open (and create or check) the database now rather than on first use, so that
        a bad path stops the server at start-up."""
        await self._run(self._opened, what="opening the response store")

    async def put(
        self,
        response: dict[str, Any],
        owner: str | None,
        input_items: tuple[dict[str, Any], ...],
        history: tuple[Message, ...],
    ) -> bool:
        """Keep a finished response; False when it alone is over the byte bound."""
        return await self._run(
            self._put, response, owner, input_items, history, what="storing the response"
        )

    def _put(
        self,
        response: dict[str, Any],
        owner: str | None,
        input_items: tuple[dict[str, Any], ...],
        history: tuple[Message, ...],
    ) -> bool:
        return self._opened().put(
            response["id"],
            owner,
            orjson.dumps(response),
            orjson.dumps(input_items),
            orjson.dumps(messages_to_json(history)),
        )

    async def get(
        self, response_id: str, owner: str | None, param: str | None = None
    ) -> StoredResponse:
        """The stored response, or a 404 (also when another key created it)."""
        found = await self._run(self._get, response_id, owner, what="reading a stored response")
        if found is None:
            raise NotFoundError(f"No response with id '{response_id}' is stored.", param=param)
        return found

    def _get(self, response_id: str, owner: str | None) -> StoredResponse | None:
        row = self._opened().get(response_id, owner)
        if row is None:
            return None
        return StoredResponse(
            owner=owner,
            response=orjson.loads(row.response),
            input_items=tuple(orjson.loads(row.input_items)),
            history=messages_from_json(orjson.loads(row.history)),
            created_at=row.created_at,
        )

    async def delete(self, response_id: str, owner: str | None) -> None:
        """Forget a stored response, or a 404 (also when another key created it)."""
        deleted = await self._run(
            lambda: self._opened().delete(response_id, owner), what="deleting a stored response"
        )
        if not deleted:
            raise NotFoundError(f"No response with id '{response_id}' is stored.")

    async def totals(self) -> tuple[int, int]:
        """(responses, bytes) stored now."""
        return await self._run(lambda: self._opened().totals(), what="counting stored responses")

    async def close(self) -> None:
        """Close the connection on its own thread, then stop the thread."""
        if self._closed:
            return
        await self._run(self._close, what="closing the response store")
        self._thread.close()

    def _close(self) -> None:
        self._closed = True
        if self._db is not None:
            self._db.close()
            self._db = None
