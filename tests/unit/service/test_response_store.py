"""The in-memory response store: scoped to the creating key, bounded by count and age."""

from __future__ import annotations

import pytest

from tera_serve.core.conversation import Message, TextPart
from tera_serve.errors import NotFoundError
from tera_serve.service import response_store
from tera_serve.service.response_store import ResponseStore

TURN = (Message(role="user", parts=(TextPart("hi"),)),)


def test_scoped_to_the_key_that_created_it() -> None:
    store = ResponseStore()
    store.put({"id": "resp_1"}, "alice", (), TURN)
    assert store.get("resp_1", "alice").history == TURN
    with pytest.raises(NotFoundError) as other:
        store.get("resp_1", "bob", "previous_response_id")
    assert other.value.param == "previous_response_id"
    with pytest.raises(NotFoundError):
        store.get("resp_1", None)
    store.delete("resp_1", "alice")
    with pytest.raises(NotFoundError):
        store.get("resp_1", "alice")


def test_least_recently_used_go_first() -> None:
    store = ResponseStore(max_responses=2)
    store.put({"id": "a"}, None, (), TURN)
    store.put({"id": "b"}, None, (), TURN)
    store.get("a", None)
    store.put({"id": "c"}, None, (), TURN)
    assert len(store) == 2
    store.get("a", None)
    with pytest.raises(NotFoundError):
        store.get("b", None)


def test_idle_entries_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(response_store.time, "monotonic", lambda: now[0])
    store = ResponseStore(max_age_s=10)
    store.put({"id": "a"}, None, (), TURN)
    now[0] = 105.0
    store.put({"id": "b"}, None, (), TURN)
    now[0] = 112.0
    with pytest.raises(NotFoundError):
        store.get("a", None)
    assert store.get("b", None).response == {"id": "b"}
