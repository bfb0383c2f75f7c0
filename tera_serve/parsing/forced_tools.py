"""Read a grammar-forced JSON answer as tool calls (tool_choice required / named).

The last stage of a forced request's parser chain: the family's own stages pass reasoning
through, and the content they let through is the constrained JSON. A named function
streams its arguments as they come; `required` emits its list of calls when the JSON is
complete. JSON that does not parse (output cut by max_tokens) stays in `content`, never
silently dropped.

A freeform tool forced under a grammar (Responses' `custom` tools) is constrained to its
raw input text, not JSON: its stage wraps that text as the call's one string argument
(`{"input": "..."}`, escaped piece by piece), the form every freeform call takes inside.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from tera_serve.core.conversation import FREEFORM_CLOSE, FREEFORM_OPEN, freeform_escaped
from tera_serve.parsing.base import ParsedDelta, ToolCallDelta, new_tool_call_id

logger = logging.getLogger(__name__)


class ForcedToolCallParser:
    reasoning_tokens = 0

    def __init__(
        self,
        function_name: str | None,
        *,
        new_call_id: Callable[[], str] = new_tool_call_id,
        freeform: bool = False,
    ) -> None:
        self._name = function_name
        self._freeform = freeform and function_name is not None
        self._new_call_id = new_call_id
        self._started = False
        self._buffer: list[str] = []

    def feed(self, token_ids: list[int], text: str) -> ParsedDelta:
        return self._convert(text, final=False)

    def finish(self) -> ParsedDelta:
        return self._convert("", final=True)

    def _convert(self, content: str, final: bool) -> ParsedDelta:
        out = ParsedDelta()
        if self._freeform:
            return self._freeform_call(content, final, out)
        if self._name is not None:
            if content:
                first = not self._started
                self._started = True
                out.tool_calls.append(
                    ToolCallDelta(
                        index=0,
                        id=self._new_call_id() if first else None,
                        name=self._name if first else None,
                        arguments=content if not first else content.lstrip(),
                    )
                )
            return out
        self._buffer.append(content)
        if final:
            self._emit_calls(out)
        return out

    def _freeform_call(self, content: str, final: bool, out: ParsedDelta) -> ParsedDelta:
        """The raw text as the call's arguments (core/conversation.py's one encoding),
        each piece escaped alone: the pieces join to `freeform_arguments(text)`."""
        arguments = freeform_escaped(content) if content else ""
        first = not self._started
        if first and (content or final):
            self._started = True
            arguments = FREEFORM_OPEN + arguments
        if final:
            arguments += FREEFORM_CLOSE
        if arguments:
            out.tool_calls.append(
                ToolCallDelta(
                    index=0,
                    id=self._new_call_id() if first else None,
                    name=self._name if first else None,
                    arguments=arguments,
                )
            )
        return out

    def _emit_calls(self, out: ParsedDelta) -> None:
        text = "".join(self._buffer)
        try:
            calls = json.loads(text)
            entries = [
                (str(c["name"]), json.dumps(c["arguments"], ensure_ascii=False)) for c in calls
            ]
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("forced tool call output is not a complete call list (%s)", exc)
            out.content = text
            return
        for index, (name, arguments) in enumerate(entries):
            out.tool_calls.append(
                ToolCallDelta(index=index, id=self._new_call_id(), name=name, arguments=arguments)
            )
