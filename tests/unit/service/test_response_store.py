"""The SQLite response store: scoped to the creating key, bounded by age, count and bytes,
persistent across instances on one file, and never on the event loop."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tera_serve.core.conversation import ImagePart, Message, TextPart, ToolCallPart
from tera_serve.errors import ConfigError, NotFoundError
from tera_serve.service import response_db
from tera_serve.service.response_db import ResponseDb, StoreLimits
from tera_serve.service.response_store import ResponseStore, store_path

TURN = (
    Message(role="user", parts=(TextPart("hi"), ImagePart(url="data:image/png;base64,AA=="))),
    Message(
        role="assistant",
        parts=(TextPart("hello"),),
        tool_calls=(ToolCallPart(id="c1", name="f", arguments="{}"),),
        reasoning="think",
    ),
)
ITEMS = ({"id": "in_1_0", "type": "message", "role": "user", "content": []},)
WIDE = StoreLimits(max_age_s=3600, max_responses=1000, max_bytes=10**8)
HANG_BOUND_S = 10.0  # a bound against a hang, not a latency claim (DESIGN rule 8)


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _store(
    path: str = ":memory:", limits: StoreLimits = WIDE, clock: Callable[[], float] = time.time
) -> ResponseStore:
    return ResponseStore(path, limits, clock)


@pytest.fixture
async def memory_store() -> AsyncIterator[ResponseStore]:
    store = _store()
    yield store
    await store.close()


def _response(response_id: str, padding: int = 0) -> dict[str, Any]:
    return {"id": response_id, "object": "response", "output": [], "pad": "x" * padding}


async def test_round_trip_and_scoped_to_the_key_that_created_it(
    memory_store: ResponseStore,
) -> None:
    assert await memory_store.put(_response("resp_1"), "alice", ITEMS, TURN)
    stored = await memory_store.get("resp_1", "alice")
    assert stored.response == _response("resp_1")
    assert stored.input_items == ITEMS and stored.history == TURN and stored.owner == "alice"
    with pytest.raises(NotFoundError) as other:
        await memory_store.get("resp_1", "bob", "previous_response_id")
    assert other.value.param == "previous_response_id"
    with pytest.raises(NotFoundError):
        await memory_store.get("resp_1", None)  # a keyless server's responses are apart too
    with pytest.raises(NotFoundError):
        await memory_store.delete("resp_1", "bob")
    await memory_store.delete("resp_1", "alice")
    with pytest.raises(NotFoundError):
        await memory_store.get("resp_1", "alice")
    with pytest.raises(NotFoundError):
        await memory_store.delete("resp_1", "alice")
    assert await memory_store.totals() == (0, 0)


async def test_a_server_without_keys_stores_under_no_owner(memory_store: ResponseStore) -> None:
    await memory_store.put(_response("resp_1"), None, (), TURN)
    assert (await memory_store.get("resp_1", None)).history == TURN
    with pytest.raises(NotFoundError):
        await memory_store.get("resp_1", "alice")


async def test_responses_expire_by_age_from_creation() -> None:
    clock = Clock()
    store = _store(
        limits=StoreLimits(max_age_s=10, max_responses=100, max_bytes=10**6), clock=clock
    )
    await store.put(_response("a"), None, (), TURN)
    clock.now += 5
    await store.put(_response("b"), None, (), TURN)
    await store.get("a", None)  # a read does not extend its life
    clock.now += 6
    with pytest.raises(NotFoundError):
        await store.get("a", None)
    with pytest.raises(NotFoundError):
        await store.delete("a", None)
    assert (await store.get("b", None)).response["id"] == "b"
    await store.put(_response("c"), None, (), TURN)  # a write purges what has expired
    assert (await store.totals())[0] == 2
    await store.close()


async def test_the_oldest_go_first_past_the_count_bound() -> None:
    clock = Clock()
    store = _store(
        limits=StoreLimits(max_age_s=3600, max_responses=2, max_bytes=10**6), clock=clock
    )
    for name in ("a", "b", "c"):
        clock.now += 1
        await store.put(_response(name), None, (), TURN)
    assert (await store.totals())[0] == 2
    with pytest.raises(NotFoundError):
        await store.get("a", None)
    assert [(await store.get(n, None)).response["id"] for n in ("b", "c")] == ["b", "c"]
    await store.close()


async def test_the_oldest_go_first_past_the_byte_bound() -> None:
    clock = Clock()
    store = _store(
        limits=StoreLimits(max_age_s=3600, max_responses=100, max_bytes=5_000), clock=clock
    )
    for name in ("a", "b", "c", "d"):
        clock.now += 1
        assert await store.put(_response(name, padding=1_500), None, (), ())
    count, stored = await store.totals()
    assert stored <= 5_000 and count == 3
    with pytest.raises(NotFoundError):
        await store.get("a", None)
    assert (await store.get("d", None)).response["id"] == "d"
    # One response over the whole bound is not kept, and evicts nothing.
    assert not await store.put(_response("huge", padding=6_000), None, (), ())
    assert (await store.totals())[0] == 3
    with pytest.raises(NotFoundError):
        await store.get("huge", None)
    await store.close()


async def test_a_file_persists_across_store_instances(tmp_path: Path) -> None:
    path = str(tmp_path / "responses.sqlite3")
    first = _store(path)
    await first.open()
    await first.put(_response("resp_1"), "alice", ITEMS, TURN)
    # A second process (here: a second instance) sees it at once, through WAL.
    second = _store(path)
    assert (await second.get("resp_1", "alice")).history == TURN
    await second.delete("resp_1", "alice")
    with pytest.raises(NotFoundError):
        await first.get("resp_1", "alice")
    await first.put(_response("resp_2"), "alice", ITEMS, TURN)
    await first.close()
    await second.close()
    reopened = _store(path)
    assert (await reopened.get("resp_2", "alice")).input_items == ITEMS
    assert await reopened.totals() == (1, (await reopened.totals())[1])
    await reopened.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # users' conversations


async def test_memory_stores_are_private_to_their_instance() -> None:
    first, second = _store(":memory:"), _store(":memory:")
    await first.put(_response("resp_1"), None, (), TURN)
    with pytest.raises(NotFoundError):
        await second.get("resp_1", None)
    await first.close()
    await second.close()


async def test_unusable_paths_are_config_errors(tmp_path: Path) -> None:
    missing = _store(str(tmp_path / "no-such-folder" / "r.sqlite3"))
    with pytest.raises(ConfigError, match="no-such-folder"):
        await missing.open()
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigError, match="garbage"):
        await _store(str(garbage)).open()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sqlite3")
    ResponseDb(path, WIDE).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={response_db.SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError, match="newer"):
        ResponseDb(path, WIDE)


def test_the_default_file_is_in_the_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERA_SERVE_CACHE", str(tmp_path / "cache"))
    assert store_path(None) == str(tmp_path / "cache" / "responses.sqlite3")
    assert (tmp_path / "cache").is_dir()
    assert store_path(":memory:") == ":memory:"


async def test_calls_run_on_one_thread_that_is_not_the_loops(
    memory_store: ResponseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[int] = set()
    put = ResponseDb.put

    def recording_put(self: ResponseDb, *args: Any) -> bool:
        threads.add(threading.get_ident())
        return put(self, *args)

    monkeypatch.setattr(ResponseDb, "put", recording_put)
    await asyncio.gather(
        *(memory_store.put(_response(f"resp_{i}"), None, (), TURN) for i in range(50))
    )
    assert len(threads) == 1 and threading.get_ident() not in threads


async def test_many_coroutines_share_a_file_and_the_loop_keeps_ticking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "responses.sqlite3")
    store, other = _store(path), _store(path)  # two "replicas" on one file
    await store.open()
    big = _response("resp_big", padding=20 * 2**20)  # encoded and written off the loop
    ticked = threading.Event()  # set by a task on the loop
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.001)
            ticked.set()

    put = ResponseDb.put

    def put_while_the_loop_ticks(self: ResponseDb, response_id: str, *args: Any) -> bool:
        if response_id == "resp_big":
            # Mid-write, the loop runs other tasks. Were this write on the loop, the ticker
            # could not run: the wait is a bound against that hang, not a latency claim.
            ticked.clear()
            assert ticked.wait(HANG_BOUND_S), "the loop did not run during the write"
        return put(self, response_id, *args)

    monkeypatch.setattr(ResponseDb, "put", put_while_the_loop_ticks)
    ticking = asyncio.create_task(ticker())
    writes = [store.put(big, "alice", (), TURN)]
    writes += [
        (store if i % 2 else other).put(_response(f"resp_{i}"), "alice", ITEMS, TURN)
        for i in range(100)
    ]
    assert all(await asyncio.gather(*writes))
    stop.set()
    await ticking
    reads = await asyncio.gather(*(other.get(f"resp_{i}", "alice") for i in range(100)))
    assert [r.response["id"] for r in reads] == [f"resp_{i}" for i in range(100)]
    assert len((await other.get("resp_big", "alice")).response["pad"]) == 20 * 2**20
    assert (await store.totals())[0] == 101
    await store.close()
    await other.close()


async def test_a_full_backlog_and_a_stuck_call_are_503s() -> None:
    from tera_serve.errors import ServiceUnavailableError
    from tera_serve.service.response_store import _StoreThread

    thread = _StoreThread(max_waiting=1, deadline_s=0.2)
    release = threading.Event()
    stuck = asyncio.create_task(thread.run(release.wait, 5, what="a stuck call"))
    await asyncio.sleep(0.05)
    with pytest.raises(ServiceUnavailableError, match="calls ahead"):
        await thread.run(lambda: None, what="another call")
    with pytest.raises(ServiceUnavailableError, match="did not answer"):
        await stuck
    release.set()
    assert await thread.run(lambda: 42, what="a later call") == 42
    thread.close()
