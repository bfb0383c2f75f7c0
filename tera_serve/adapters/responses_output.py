"""Events → OpenAI Responses: the semantic SSE event sequence, or one folded `response`.

One `OutputAssembler` turns the event stream into output items (`reasoning`, `message`,
`function_call`, `custom_tool_call`), opening a new item whenever the kind of output
changes, and reports each step as a semantic event. A call of an offered namespaced function
(`crm.lookup`) carries `namespace` and `name` apart (a name the client never offered stays
whole); a freeform tool's call carries its
`input` text (adapters/freeform_input.py reads it from the arguments as they stream); a
reasoning item carries `encrypted_content` when the request asked for it. The stream
encoder numbers and sends those events; the folder drops them and keeps only the items.
Both end with the same `response` object, so a stream and its non-stream twin cannot
disagree. The items and the per-token `TextDelta`: adapters/responses_items.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from tera_serve.adapters.freeform_input import FreeformStream
from tera_serve.adapters.responses_body import OutputRules, ResponseHead, response_error
from tera_serve.adapters.responses_items import (
    CALL_KINDS,
    ID_PREFIXES,
    Event,
    OutputItem,
    TextDelta,
    part_body,
)
from tera_serve.adapters.responses_tools import CallTarget
from tera_serve.core.conversation import Message, TextPart, ToolCallPart
from tera_serve.errors import TeraError
from tera_serve.parsing.base import ToolCallDelta
from tera_serve.service.generation import ChoiceEvent
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.usage import UsageCounter

OnFinal = Callable[[dict[str, Any], Message], None]
"""Called with a finished (completed or incomplete) response and its output as a turn."""


class OutputAssembler:
    """The output items of one response, built from its events (Responses has one choice)."""

    def __init__(self, prepared: PreparedGeneration, rules: OutputRules | None = None) -> None:
        self._request_id = prepared.request_id
        self._rules = rules or OutputRules()
        self.items: list[OutputItem] = []
        self._open: OutputItem | None = None
        self._calls: dict[int, OutputItem] = {}
        self.finish_reason: str | None = None

    def _start(
        self,
        kind: str,
        events: list[Event],
        call_id: str = "",
        name: str = "",
        target: CallTarget | None = None,
    ) -> OutputItem:
        self._close(events, "completed")
        index = len(self.items)
        item_id = f"{ID_PREFIXES[kind]}{self._request_id}_{index}"
        item = OutputItem(kind, item_id, index, call_id=call_id, name=name, target=target)
        if kind == "custom_tool_call":
            item.freeform = FreeformStream()
        self.items.append(item)
        self._open = item
        events.append(
            {"type": "response.output_item.added", "output_index": index, "item": item.body()}
        )
        if kind not in CALL_KINDS:
            events.append(
                {
                    **self._where(item),
                    "type": "response.content_part.added",
                    "part": part_body(kind, ""),
                }
            )
        return item

    def _where(self, item: OutputItem) -> dict[str, Any]:
        where: dict[str, Any] = {"item_id": item.item_id, "output_index": item.index}
        if item.kind not in CALL_KINDS:
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
            if self._rules.seal is not None:
                item.encrypted = self._rules.seal(text)
        elif item.kind == "message":
            events.append(
                {**where, "type": "response.output_text.done", "text": text, "logprobs": []}
            )
        elif item.freeform is not None:
            self._close_input(item, text, where, events)
        else:
            events.append(
                {**where, "type": "response.function_call_arguments.done", "arguments": text}
            )
        if item.kind not in CALL_KINDS:
            events.append(
                {**where, "type": "response.content_part.done", "part": part_body(item.kind, text)}
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

    def _close_input(
        self, item: OutputItem, arguments: str, where: dict[str, Any], events: list[Event]
    ) -> None:
        """A custom call's whole input: what streamed, plus any rest (an escape held back
        at the end, or arguments that were not `{"input": ...}` at all)."""
        freeform = item.freeform
        streamed = freeform.decoded if freeform is not None else ""
        final = freeform.finish(arguments) if freeform is not None else arguments
        if final.startswith(streamed) and len(final) > len(streamed):
            rest = final[len(streamed) :]
            events.append({**where, "type": "response.custom_tool_call_input.delta", "delta": rest})
        item.final_input = final
        events.append({**where, "type": "response.custom_tool_call_input.done", "input": final})

    def _call(self, call: ToolCallDelta, events: list[Event]) -> None:
        if call.id is not None:
            name = call.name or ""
            target = self._rules.tools.target(name)
            kind = "custom_tool_call" if target.kind == "custom" else "function_call"
            self._calls[call.index] = self._start(
                kind, events, call_id=call.id, name=name, target=target
            )
        item = self._calls.get(call.index)
        if item is None or not call.arguments:
            return
        item.text.append(call.arguments)
        if item.freeform is not None:
            delta = item.freeform.feed(call.arguments)
            if delta:
                events.append(
                    {
                        **self._where(item),
                        "type": "response.custom_tool_call_input.delta",
                        "delta": delta,
                    }
                )
            return
        events.append(
            {
                **self._where(item),
                "type": "response.function_call_arguments.delta",
                "delta": call.arguments,
            }
        )

    def continue_text(self, event: ChoiceEvent) -> OutputItem | None:
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
                if i.kind in CALL_KINDS
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
        self._assembler = OutputAssembler(prepared, head.rules)
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
        self._assembler = OutputAssembler(prepared, head.rules)
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
