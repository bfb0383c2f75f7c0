"""What the Responses store keeps of a request: its input items (as the client sent them,
with ids), the conversation carried into the next turn, and the finished response.

Built before the first byte (in the CPU pool); the encoder or folder hands the finished
response over once, as the driver completes the answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from tera_serve.core.conversation import Message
from tera_serve.protocol.responses import ResponsesRequest
from tera_serve.service.response_store import ResponseStore

logger = logging.getLogger(__name__)


def input_items(body: ResponsesRequest, response_id: str) -> tuple[dict[str, Any], ...]:
    """The request's input as items with ids (`GET .../input_items` lists them)."""
    if isinstance(body.input, str):
        items: list[dict[str, Any]] = [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": body.input}],
            }
        ]
    else:
        items = [
            item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in body.input
        ]
    for index, item in enumerate(items):
        item.setdefault("id", f"in_{response_id.removeprefix('resp_')}_{index}")
    return tuple(items)


@dataclass(frozen=True)
class ResponseKeeper:
    store: ResponseStore
    owner: str | None
    """The key's identity (its secret's hash), never its name: two keys never share one."""
    input_items: tuple[dict[str, Any], ...]
    carried: tuple[Message, ...]
    """The conversation so far, which the answer's turn continues."""

    async def keep(self, response: dict[str, Any], turn: Message) -> None:
        try:
            await self.store.put(response, self.owner, self.input_items, (*self.carried, turn))
        except Exception:
            # The answer itself is sound: deliver it, and say why it cannot be continued.
            logger.exception("response %s was not stored", response["id"])
