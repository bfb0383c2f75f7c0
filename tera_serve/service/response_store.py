"""Stored responses for `previous_response_id` and GET /v1/responses/{id}.

In memory, per process: bounded by count (least recently used go first) and by idle age, and
scoped to the API key that created each response (another key sees a 404, as if it did not
exist). Replicas behind a load balancer do not share it: route a conversation's requests to
one replica, or have clients send the whole history with `store: false`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from tera_serve.core.conversation import Message
from tera_serve.errors import NotFoundError

DEFAULT_MAX_RESPONSES = 10_000
DEFAULT_MAX_AGE_S = 24 * 3600.0


@dataclass(frozen=True)
class StoredResponse:
    owner: str | None
    """The name of the key that created it (None on a server without keys)."""
    response: dict[str, Any]
    input_items: tuple[dict[str, Any], ...]
    history: tuple[Message, ...]
    """The conversation up to and including this response's output (no `instructions`)."""
    used_at: float
    """Last stored or read: entries idle longer than the store's age bound are dropped."""


class ResponseStore:
    def __init__(
        self, max_responses: int = DEFAULT_MAX_RESPONSES, max_age_s: float = DEFAULT_MAX_AGE_S
    ) -> None:
        self._max = max_responses
        self._max_age_s = max_age_s
        self._entries: OrderedDict[str, StoredResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def put(
        self,
        response: dict[str, Any],
        owner: str | None,
        input_items: tuple[dict[str, Any], ...],
        history: tuple[Message, ...],
    ) -> None:
        now = time.monotonic()
        self._entries[response["id"]] = StoredResponse(owner, response, input_items, history, now)
        self._entries.move_to_end(response["id"])
        self._expire(now)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if now - oldest.used_at <= self._max_age_s:
                return
            self._entries.popitem(last=False)

    def get(self, response_id: str, owner: str | None, param: str | None = None) -> StoredResponse:
        """The stored response, or a 404 (also when another key created it)."""
        self._expire(time.monotonic())
        entry = self._entries.get(response_id)
        if entry is None or entry.owner != owner:
            raise NotFoundError(f"No response with id '{response_id}' is stored.", param=param)
        entry = replace(entry, used_at=time.monotonic())
        self._entries[response_id] = entry
        self._entries.move_to_end(response_id)
        return entry

    def delete(self, response_id: str, owner: str | None) -> None:
        self.get(response_id, owner)
        del self._entries[response_id]
