"""The Responses API's output items as they are built, and the per-token text delta.

The per-token events (`response.output_text.delta`, `response.reasoning_text.delta`) are
`TextDelta`s rather than dicts: the encoder frames them from bytes serialized once per item,
byte for byte what orjson makes of the event's dict (`TextDelta.event()`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tera_serve.adapters.freeform_input import FreeformStream
from tera_serve.adapters.responses_tools import CallTarget

ID_PREFIXES = {
    "reasoning": "rs_",
    "message": "msg_",
    "function_call": "fc_",
    "custom_tool_call": "ctc_",
}
CALL_KINDS = ("function_call", "custom_tool_call")


_DELTA_TYPES = {
    "reasoning": "response.reasoning_text.delta",
    "message": "response.output_text.delta",
}


@dataclass
class OutputItem:
    kind: str  # reasoning | message | function_call | custom_tool_call
    item_id: str
    index: int
    """Its place in `output`."""
    text: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    """A call's name as the model called it (a namespaced one: `namespace.name`)."""
    target: CallTarget | None = None
    """...and what that name is on the wire (the offered tool's namespace and name)."""
    status: str = "in_progress"
    freeform: FreeformStream | None = None
    """A custom tool call's input, decoded from its arguments."""
    final_input: str = ""
    encrypted: str | None = None
    """A finished reasoning item's sealed text."""
    delta_head: bytes = b""
    """A text item's delta frame up to its text (see `TextDelta`)."""
    delta_tail: bytes = b""
    """...and after it, with `%d` for the sequence number."""

    def __post_init__(self) -> None:
        delta_type = _DELTA_TYPES.get(self.kind)
        if delta_type is None:
            return
        self.delta_head = (
            b"event: "
            + delta_type.encode()
            + b'\ndata: {"item_id":'
            + orjson.dumps(self.item_id)
            + b',"output_index":%d,"content_index":0,"type":"%s","delta":'
            % (self.index, delta_type.encode())
        )
        logprobs = b',"logprobs":[]' if self.kind == "message" else b""
        self.delta_tail = logprobs + b',"sequence_number":%d}\n\n'

    def body(self) -> dict[str, Any]:
        text = "".join(self.text)
        if self.kind == "reasoning":
            content = (
                [{"type": "reasoning_text", "text": text}] if self.status != "in_progress" else []
            )
            reasoning = {
                "id": self.item_id,
                "type": "reasoning",
                "summary": [],
                "content": content,
                "status": self.status,
            }
            if self.encrypted is not None:
                reasoning["encrypted_content"] = self.encrypted
            return reasoning
        if self.kind == "message":
            return {
                "id": self.item_id,
                "type": "message",
                "role": "assistant",
                "status": self.status,
                "content": [_text_part(text)] if self.status != "in_progress" else [],
            }
        target = self.target or CallTarget("function", self.name)
        call: dict[str, Any] = {"id": self.item_id, "type": self.kind, "call_id": self.call_id}
        if target.namespace:
            call["namespace"] = target.namespace
        call["name"] = target.name
        if self.kind == "custom_tool_call":
            call["input"] = self.final_input if self.status != "in_progress" else ""
        else:
            call["arguments"] = text if self.status != "in_progress" else ""
        call["status"] = self.status
        return call


@dataclass(frozen=True, slots=True)
class TextDelta:
    """One text delta of a `reasoning` or `message` item (the per-token event)."""

    item: OutputItem
    text: str

    def event(self) -> dict[str, Any]:
        """The event as a dict, in the key order of every other event."""
        event: dict[str, Any] = {
            "item_id": self.item.item_id,
            "output_index": self.item.index,
            "content_index": 0,
            "type": _DELTA_TYPES[self.item.kind],
            "delta": self.text,
        }
        if self.item.kind == "message":
            event["logprobs"] = []
        return event

    def frame(self, sequence_number: int) -> bytes:
        """What `_frame({**self.event(), "sequence_number": n})` gives, from the item's
        pre-serialized head and tail."""
        return (
            self.item.delta_head + orjson.dumps(self.text) + self.item.delta_tail % sequence_number
        )


Event = dict[str, Any] | TextDelta


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def part_body(kind: str, text: str) -> dict[str, Any]:
    return {"type": "reasoning_text", "text": text} if kind == "reasoning" else _text_part(text)
