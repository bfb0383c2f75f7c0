"""A family's output parser as a chain of stages with one interface.

Each stage is an OutputParser. The first is fed the engine's token ids and text; each
later stage is fed the content the stage before it let through (tool parsers read calls
out of the content, the forced-tool stage turns constrained JSON into calls). Reasoning
and tool calls from every stage are kept; the last stage's content is the message's.
"""

from __future__ import annotations

from collections.abc import Sequence

from tera_serve.parsing.base import OutputParser, ParsedDelta


class ParserChain:
    def __init__(self, stages: Sequence[OutputParser]) -> None:
        if not stages:
            raise ValueError("a parser chain needs at least one stage")
        self._stages = tuple(stages)

    @property
    def reasoning_tokens(self) -> int:
        return sum(stage.reasoning_tokens for stage in self._stages)

    def feed(self, token_ids: list[int], text: str) -> ParsedDelta:
        return self._through(self._stages[0].feed(token_ids, text), 1, token_ids, final=False)

    def finish(self) -> ParsedDelta:
        return self._through(self._stages[0].finish(), 1, [], final=True)

    def _through(
        self, parsed: ParsedDelta, start: int, token_ids: list[int], *, final: bool
    ) -> ParsedDelta:
        for stage in self._stages[start:]:
            if parsed.content:
                out = stage.feed(token_ids, parsed.content)
            elif not final:
                continue  # nothing for this stage: what came before passes through as is
            else:
                out = ParsedDelta()
            if final:
                out.extend(stage.finish())
            # Per token the earlier stages' parts are usually empty: skip the copies then.
            if parsed.reasoning:
                out.reasoning = parsed.reasoning + out.reasoning
            if parsed.tool_calls:
                out.tool_calls = parsed.tool_calls + out.tool_calls
            parsed = out
        return parsed
