"""Events → OpenAI Responses: the semantic SSE event sequence, or one folded `response`.

One `OutputAssembler` turns the event stream into output items (`reasoning`, `message`,
`function_call`), opening a new item whenever the kind of output changes, and reports each
step as a semantic event. The stream encoder numbers and sends those events; the folder
drops them and keeps only the items. Both end with the same `response` object, so a stream
and its non-stream twin cannot disagree.

The per-token events (`response.output_text.delta`, `response.reasoning_text.delta`) are
`TextDelta`s rather than dicts: the encoder frames them from bytes serialized once per item,
byte for byte what orjson makes of the event's dict (`TextDelta.event()`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tera_serve.adapters.responses_body import ResponseHead, response_error
from tera_serve.core.conversation import Message, TextPart, ToolCallPart
from tera_serve.errors import TeraError
from tera_serve.parsing.base import ToolCallDelta
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.usage import UsageCounter

OnFinal = Callable[[dict[str, Any], Message], None]
"""Called with a finished (completed or incomplete) response and its output as a turn."""

_ID_PREFIXES = {"reasoning": "rs_", "message": "msg_", "function_call": "fc_"}


_DELTA_TYPES = {
    "reasoning": "response.reasoning_text.delta",
    "message": "response.output_text.delta",
}


@dataclass
class _Item:
    kind: str  # reasoning | message | function_call
    item_id: str
    index: int
    """Its place in `output`."""
    text: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    status: str = "in_progress"
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
            return {
                "id": self.item_id,
                "type": "reasoning",
                "summary": [],
                "content": content,
                "status": self.status,
            }
        if self.kind == "message":
            return {
                "id": self.item_id,
                "type": "message",
                "role": "assistant",
                "status": self.status,
                "content": [_text_part(text)] if self.status != "in_progress" else [],
            }
        return {
            "id": self.item_id,
            "type": "function_call",
            "call_id": self.call_id,
            "name": self.name,
            "arguments": text if self.status != "in_progress" else "",
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class TextDelta:
    """One text delta of a `reasoning` or `message` item (the per-token event)."""

    item: _Item
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


def _part(kind: str, text: str) -> dict[str, Any]:
    return {"type": "reasoning_text", "text": text} if kind == "reasoning" else _text_part(text)


class OutputAssembler:
    """The output items of one response, built from its events (Responses has one choice)."""

    def __init__(self, prepared: PreparedGeneration) -> None:
        self._request_id = prepared.request_id
        self.items: list[_Item] = []
        self._open: _Item | None = None
        self._calls: dict[int, _Item] = {}
        self.finish_reason: str | None = None

    def _start(self, kind: str, events: list[Event], call_id: str = "", name: str = "") -> _Item:
        self._close(events, "completed")
        index = len(self.items)
        item_id = f"{_ID_PREFIXES[kind]}{self._request_id}_{index}"
        item = _Item(kind, item_id, index, call_id=call_id, name=name)
        self.items.append(item)
        self._open = item
        events.append(
            {"type": "response.output_item.added", "output_index": index, "item": item.body()}
        )
        if kind != "function_call":
            events.append(
                {
                    **self._where(item),
                    "type": "response.content_part.added",
                    "part": _part(kind, ""),
                }
            )
        return item

    def _where(self, item: _Item) -> dict[str, Any]:
        where: dict[str, Any] = {"item_id": item.item_id, "output_index": item.index}
        if item.kind != "function_call":
            where["content_index"] = 0
        return where

    def _close(self, events: list[Event], status: str) -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        item.status = status
        text = "".join(item.text)
        where = self._where(item)
        if item.kind == "reasoning":
            events.append({**where, "type": "response.reasoning_text.done", "text": text})
        elif item.kind == "message":
            events.append(
                {**where, "type": "response.output_text.done", "text": text, "logprobs": []}
            )
        else:
            events.append(
                {**where, "type": "response.function_call_arguments.done", "arguments": text}
            )
        if item.kind != "function_call":
            events.append(
                {**where, "type": "response.content_part.done", "part": _part(item.kind, text)}
            )
        events.append(
            {
                "type": "response.output_item.done",
                "output_index": where["output_index"],
                "item": item.body(),
            }
        )

    def _text(self, kind: str, text: str, events: list[Event]) -> None:
        item = self._open
        if item is None or item.kind != kind:
            item = self._start(kind, events)
        item.text.append(text)
        events.append(TextDelta(item, text))

    def _call(self, call: ToolCallDelta, events: list[Event]) -> None:
        if call.id is not None:
            self._calls[call.index] = self._start(
                "function_call", events, call_id=call.id, name=call.name or ""
            )
        item = self._calls.get(call.index)
        if item is None or not call.arguments:
            return
        item.text.append(call.arguments)
        events.append(
            {
                **self._where(item),
                "type": "response.function_call_arguments.delta",
                "delta": call.arguments,
            }
        )

    def continue_text(self, event: ChoiceEvent) -> _Item | None:
        """The per-token case: an event that only adds text to the open item of its kind
        (no other output, not the last) is appended here and its item returned, so the
        encoder can frame it at once; anything else returns None and goes through `add`."""
        item = self._open
        delta = event.delta
        if item is None or event.finish_reason is not None or delta.tool_calls:
            return None
        if item.kind == "message" and delta.content and not delta.reasoning:
            item.text.append(delta.content)
            return item
        if item.kind == "reasoning" and delta.reasoning and not delta.content:
            item.text.append(delta.reasoning)
            return item
        return None

    def add(self, event: ChoiceEvent) -> list[Event]:
        """The semantic events this engine event makes (without sequence numbers)."""
        events: list[Event] = []
        if event.delta.reasoning:
            self._text("reasoning", event.delta.reasoning, events)
        if event.delta.content:
            self._text("message", event.delta.content, events)
        for call in event.delta.tool_calls:
            self._call(call, events)
        if event.finish_reason is not None:
            self.finish_reason = event.finish_reason
            self._close(events, "incomplete" if event.finish_reason == "length" else "completed")
        return events

    def output(self) -> list[dict[str, Any]]:
        return [item.body() for item in self.items]

    def turn(self) -> Message:
        """The output as one assistant turn, for `previous_response_id`."""
        text = "".join("".join(i.text) for i in self.items if i.kind == "message")
        reasoning = "".join("".join(i.text) for i in self.items if i.kind == "reasoning")
        return Message(
            role="assistant",
            parts=(TextPart(text),) if text else (),
            tool_calls=tuple(
                ToolCallPart(id=i.call_id, name=i.name, arguments="".join(i.text))
                for i in self.items
                if i.kind == "function_call"
            ),
            reasoning=reasoning or None,
        )


def final_response(
    head: ResponseHead, assembler: OutputAssembler, usage: UsageCounter
) -> dict[str, Any]:
    incomplete = assembler.finish_reason == "length"
    return head.body(
        "incomplete" if incomplete else "completed",
        assembler.output(),
        usage,
        incomplete_reason="max_output_tokens" if incomplete else None,
    )


def _frame(payload: dict[str, Any]) -> bytes:
    name = str(payload["type"]).encode()
    return b"event: " + name + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class ResponsesStreamEncoder:
    def __init__(
        self, prepared: PreparedGeneration, head: ResponseHead, on_final: OnFinal | None = None
    ) -> None:
        self._head = head
        self._assembler = OutputAssembler(prepared)
        self._on_final = on_final
        self._sequence = 0

    def _frames(self, events: list[Event]) -> list[bytes]:
        frames = []
        for event in events:
            if isinstance(event, TextDelta):
                frames.append(event.frame(self._sequence))
            else:
                frames.append(_frame({**event, "sequence_number": self._sequence}))
            self._sequence += 1
        return frames

    def start_frames(self) -> list[bytes]:
        response = self._head.body("in_progress", [], None)
        return self._frames(
            [
                {"type": "response.created", "response": response},
                {"type": "response.in_progress", "response": response},
            ]
        )

    def frames(self, event: ChoiceEvent) -> list[bytes]:
        item = self._assembler.continue_text(event)
        if item is not None:  # the hot path: one text delta, from the item's heads
            self._sequence += 1
            return [
                item.delta_head
                + orjson.dumps(item.text[-1])
                + item.delta_tail % (self._sequence - 1)
            ]
        return self._frames(self._assembler.add(event))

    def end_frames(self, usage: UsageCounter) -> list[bytes]:
        response = final_response(self._head, self._assembler, usage)
        if self._on_final is not None:
            self._on_final(response, self._assembler.turn())
        kind = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        return self._frames([{"type": kind, "response": response}])

    def error_frames(self, error: TeraError) -> list[bytes]:
        response = self._head.body(
            "failed", self._assembler.output(), None, error=response_error(error)
        )
        return self._frames([{"type": "response.failed", "response": response}])


class ResponsesFolder:
    def __init__(
        self, prepared: PreparedGeneration, head: ResponseHead, on_final: OnFinal | None = None
    ) -> None:
        self._head = head
        self._assembler = OutputAssembler(prepared)
        self._on_final = on_final
        self.usage = UsageCounter.of(prepared)

    def add(self, event: ChoiceEvent) -> None:
        self.usage.add(event)
        if self._assembler.continue_text(event) is None:
            self._assembler.add(event)

    def response(self) -> dict[str, Any]:
        response = final_response(self._head, self._assembler, self.usage)
        if self._on_final is not None:
            self._on_final(response, self._assembler.turn())
        return response
