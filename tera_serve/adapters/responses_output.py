"""Events → OpenAI Responses: the semantic SSE event sequence, or one folded `response`.

One `OutputAssembler` turns the core's blocks into output items (`reasoning`, `message`,
`function_call`, `custom_tool_call`), one item per block, and reports each step as
semantic events. A call of an offered namespaced function
(`crm.lookup`) carries `namespace` and `name` apart (a name the client never offered stays
whole); a freeform tool's call carries its
`input` text (adapters/freeform_input.py reads it from the arguments as they stream); a
reasoning item carries `encrypted_content` when the request asked for it. The stream
encoder numbers and sends those events; the folder drops them and keeps only the items.
Both end with the same `response` object, so a stream and its non-stream twin cannot
disagree. The items and the per-token `TextDelta`: adapters/responses_items.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from tera_serve.core.events import (
    BlockDelta,
    BlockEnd,
    BlockKind,
    BlockStart,
    OutputEvent,
    Step,
    Usage,
)
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.errors import TeraError

Keep = Callable[[dict[str, Any], Message], Awaitable[None]]
"""Stores a finished (completed or incomplete) response with its output as a turn."""

_ITEM_KINDS = {BlockKind.REASONING: "reasoning", BlockKind.TEXT: "message"}
_CALL = BlockKind.TOOL_CALL


class OutputAssembler:
    """The output items of one response, built from its steps (Responses has one choice)."""

    def __init__(self, answer: PreparedAnswer, rules: OutputRules | None = None) -> None:
        self._request_id = answer.request_id
        self._rules = rules or OutputRules()
        self.items: list[OutputItem] = []
        self._open: OutputItem | None = None
        self._by_block: dict[int, OutputItem] = {}
        self.finish_reason: str | None = None

    def _start(self, start: BlockStart, events: list[Event]) -> OutputItem:
        call_id = name = ""
        target: CallTarget | None = None
        if start.call is not None:
            call_id, name = start.call.call_id, start.call.name
            target = self._rules.tools.target(name)
            kind = "custom_tool_call" if target.kind == "custom" else "function_call"
        else:
            kind = _ITEM_KINDS[start.kind]
        index = len(self.items)
        item_id = f"{ID_PREFIXES[kind]}{self._request_id}_{index}"
        item = OutputItem(kind, item_id, index, call_id=call_id, name=name, target=target)
        if kind == "custom_tool_call":
            item.freeform = FreeformStream()
        self.items.append(item)
        self._by_block[start.block] = item
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

    def _close(self, item: OutputItem, events: list[Event], status: str) -> None:
        if self._open is item:
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

    def _delta(self, event: BlockDelta, events: list[Event]) -> None:
        item = self._by_block[event.block]
        item.text.append(event.text)
        if item.kind not in CALL_KINDS:
            events.append(TextDelta(item, event.text))
            return
        if item.freeform is not None:
            delta = item.freeform.feed(event.text)
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
                "delta": event.text,
            }
        )

    def continue_text(self, step: Step) -> OutputItem | None:
        """The per-token case: a step that only adds text to the open item (no other
        output, not the last) is appended here and its item returned, so the encoder can
        frame it at once; anything else returns None and goes through `add`."""
        events = step.events
        if len(events) != 1 or step.end is not None:
            return None
        event = events[0]
        item = self._open
        if type(event) is not BlockDelta or item is None or event.kind is _CALL:
            return None
        item.text.append(event.text)
        return item

    def add(self, step: Step) -> list[Event]:
        """The semantic events this step makes (without sequence numbers)."""
        events: list[Event] = []
        cut_at = (
            len(step.events) - 1 if step.end is not None and step.end.reason == "length" else -1
        )
        for position, event in enumerate(step.events):
            self._event(event, events, cut=position == cut_at)
        if step.end is not None:
            self.finish_reason = step.end.reason
        return events

    def _event(self, event: OutputEvent, events: list[Event], *, cut: bool) -> None:
        if type(event) is BlockDelta:
            self._delta(event, events)
        elif type(event) is BlockStart:
            self._start(event, events)
        elif type(event) is BlockEnd:
            # The block the token limit cut (the output's last) is incomplete.
            status = "incomplete" if cut else "completed"
            self._close(self._by_block[event.block], events, status)

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


def final_response(head: ResponseHead, assembler: OutputAssembler, usage: Usage) -> dict[str, Any]:
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


class _Keeping:
    """Hands a finished response to the store (when the request asked to store it) once
    the driver says the answer is complete, before the client can read its end."""

    def __init__(self, assembler: OutputAssembler, keep: Keep | None) -> None:
        self._assembler = assembler
        self._keep = keep
        self._final: dict[str, Any] | None = None

    def finished(self, response: dict[str, Any]) -> None:
        self._final = response

    async def complete(self) -> None:
        if self._keep is not None and self._final is not None:
            response, self._final = self._final, None
            await self._keep(response, self._assembler.turn())


class ResponsesStreamEncoder(_Keeping):
    def __init__(self, answer: PreparedAnswer, head: ResponseHead, keep: Keep | None) -> None:
        self._head = head
        self._assembler = OutputAssembler(answer, head.rules)
        super().__init__(self._assembler, keep)
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

    def frames(self, step: Step) -> list[bytes]:
        item = self._assembler.continue_text(step)
        if item is not None:  # the hot path: one text delta, from the item's heads
            sequence = self._sequence
            self._sequence = sequence + 1
            return [item.delta_head + orjson.dumps(item.text[-1]) + item.delta_tail % sequence]
        return self._frames(self._assembler.add(step))

    def end_frames(self, usage: Usage) -> list[bytes]:
        response = final_response(self._head, self._assembler, usage)
        self.finished(response)
        kind = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        return self._frames([{"type": kind, "response": response}])

    def error_frames(self, error: TeraError) -> list[bytes]:
        response = self._head.body(
            "failed", self._assembler.output(), None, error=response_error(error)
        )
        return self._frames([{"type": "response.failed", "response": response}])


class ResponsesFolder(_Keeping):
    def __init__(self, answer: PreparedAnswer, head: ResponseHead, keep: Keep | None) -> None:
        self._head = head
        self._assembler = OutputAssembler(answer, head.rules)
        super().__init__(self._assembler, keep)

    def add(self, step: Step) -> None:
        if self._assembler.continue_text(step) is None:
            self._assembler.add(step)

    def response(self, usage: Usage) -> dict[str, Any]:
        response = final_response(self._head, self._assembler, usage)
        self.finished(response)
        return response
