"""Read a grammar-forced JSON answer as tool calls (tool_choice required / named).

Reasoning passes through from the family's own parser; the content it would have
emitted is the constrained JSON. A named function streams its arguments as they come;
`required` emits its list of calls when the JSON is complete. JSON that does not parse
(output cut by max_tokens) stays in `content`, never silently dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from tera_serve.parsing.base import OutputParser, ParsedDelta, ToolCallDelta, new_tool_call_id

logger = logging.getLogger(__name__)


class ForcedToolCallParser:
    def __init__(
        self,
        inner: OutputParser,
        function_name: str | None,
        *,
        new_call_id: Callable[[], str] = new_tool_call_id,
    ) -> None:
        self._inner = inner
        self._name = function_name
        self._new_call_id = new_call_id
        self._started = False
        self._buffer: list[str] = []
        self._calls = 0

    @property
    def reasoning_tokens(self) -> int:
        return self._inner.reasoning_tokens

    @property
    def called_tools(self) -> bool:
        # A named function finishes with "stop", as OpenAI's API does for a forced function.
        return self._name is None and self._calls > 0

    def feed(self, token_ids: list[int], text: str) -> ParsedDelta:
        return self._convert(self._inner.feed(token_ids, text), final=False)

    def finish(self) -> ParsedDelta:
        return self._convert(self._inner.finish(), final=True)

    def _convert(self, parsed: ParsedDelta, final: bool) -> ParsedDelta:
        out = ParsedDelta(reasoning=parsed.reasoning)
        if self._name is not None:
            if parsed.content:
                first = not self._started
                self._started = True
                self._calls = 1
                out.tool_calls.append(
                    ToolCallDelta(
                        index=0,
                        id=self._new_call_id() if first else None,
                        name=self._name if first else None,
                        arguments=parsed.content if not first else parsed.content.lstrip(),
                    )
                )
            return out
        self._buffer.append(parsed.content)
        if final:
            self._emit_calls(out)
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
        self._calls = len(entries)
