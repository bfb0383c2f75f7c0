"""DeepSeek-V3's tool calls: special tokens around a fenced JSON object.

    <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather
    ```json
    {"city": "Paris"}
    ```<｜tool▁call▁end｜>
    <｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time
    ```json
    {}
    ```<｜tool▁call▁end｜><｜tool▁calls▁end｜>

The run of calls is wrapped in `<｜tool▁calls▁begin｜>` ... `<｜tool▁calls▁end｜>` (dropped),
each call in `<｜tool▁call▁begin｜>` ... `<｜tool▁call▁end｜>`: its type (`function`), the
separator, its name up to the line's end, then the arguments inside a Markdown fence. The
tags are ordinary (not special) tokens of DeepSeek's vocabulary, so they reach the text.

The arguments stream as written, from the object's `{` to the fence: whitespace and
backticks at the end of what has arrived are held until more text shows whether they are
the closing fence, so the fragments of a call concatenate to the same string however the
output was cut. `<｜tool▁call▁end｜>` ends a call wherever it stands, even inside a JSON
string: it is a token of its own, which no text spells.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from tera_serve.parsing.tags import CallTags, skip_space, tag_set
from tera_serve.parsing.tool_base import TaggedToolParser, ToolFormat

DEEPSEEK_V3_TAGS = CallTags(
    open="<｜tool▁call▁begin｜>",
    close="<｜tool▁call▁end｜>",
    block_open="<｜tool▁calls▁begin｜>",
    block_close="<｜tool▁calls▁end｜>",
)
TOOL_SEP = "<｜tool▁sep｜>"
_FENCE_LINE = re.compile(r"```[A-Za-z]*[ \t]*")
_HELD = re.compile(r"[\s`]*\Z")  # a possible closing fence at the end of the arguments
_LONGEST_LEAD = 64  # a type or fence line longer than this is not the format


class _Phase(enum.Enum):
    TYPE = "type"  # `function`, up to <｜tool▁sep｜>
    NAME = "name"  # up to the end of the line
    FENCE = "fence"  # ```json, then the object's `{`
    ARGUMENTS = "arguments"  # up to <｜tool▁call▁end｜>


@dataclass
class _Reading:
    phase: _Phase = _Phase.TYPE
    lead: list[str] = field(default_factory=list)  # the type, or the name, so far
    name: str = ""
    fenced: bool = False
    held: str = ""  # trailing whitespace and backticks of the arguments, not yet emitted


class DeepSeekV3ToolParser(TaggedToolParser):
    format_name = "deepseek_v3"
    default_tags = DEEPSEEK_V3_TAGS

    def _use_tags(self, tags: CallTags) -> None:
        ends = (tags.close, tags.open, *(t for t in (tags.block_close,) if t is not None))
        self._type_tags = tag_set(TOOL_SEP, *ends)
        self._end_tags = tag_set(*ends)

    def _start_call(self) -> None:
        self._r = _Reading()

    def _call_step(self, buf: str, at: int) -> int:
        phase = self._r.phase
        if phase is _Phase.TYPE:
            return self._type_step(buf, at)
        if phase is _Phase.NAME:
            return self._name_step(buf, at)
        if phase is _Phase.FENCE:
            return self._fence_step(buf, at)
        return self._arguments_step(buf, at)

    def _type_step(self, buf: str, at: int) -> int:
        start, tag, held = self._type_tags.scan(buf, at)
        self._r.lead.append(buf[at:start])
        if sum(map(len, self._r.lead)) > _LONGEST_LEAD:
            self._fail(f"no {TOOL_SEP} after its type")
            return start
        if tag is None:
            return self._hold(start) if held else start
        if tag != TOOL_SEP:
            self._fail(f"it has no {TOOL_SEP}")
            return start
        self._r.lead.clear()
        self._r.phase = _Phase.NAME
        return start + len(tag)

    def _name_step(self, buf: str, at: int) -> int:
        end = buf.find("\n", at)
        piece = buf[at : len(buf) if end == -1 else end]
        if "<" in piece or "`" in piece:
            self._fail("its name is not ended by a new line")
            return at
        self._r.lead.append(piece)
        if end == -1:
            return len(buf)
        name = "".join(self._r.lead).strip()
        if not self._known_tool(name):
            self._fail(f"{name!r} is not one of the offered tools")
            return end
        self._r.name, self._r.phase = name, _Phase.FENCE
        return end + 1

    def _fence_step(self, buf: str, at: int) -> int:
        pos = skip_space(buf, at)
        rest = buf[pos:]
        if not rest:
            return pos
        if rest[0] == "{":
            self._report(self._r.name)
            self._r.phase = _Phase.ARGUMENTS
            return pos
        if rest[0] != "`" or self._r.fenced:
            self._fail("its arguments are not a JSON object")
            return pos
        line_end = rest.find("\n")
        if line_end == -1:
            if len(rest) > _LONGEST_LEAD:
                self._fail("its fence line does not end")
                return pos
            return self._hold(pos)
        if _FENCE_LINE.fullmatch(rest[:line_end]) is None:
            self._fail("its arguments are not in a ```json fence")
            return pos
        self._r.fenced = True
        return pos + line_end + 1

    def _arguments_step(self, buf: str, at: int) -> int:
        start, tag, held = self._end_tags.scan(buf, at)
        text = self._r.held + buf[at:start]
        if tag is None:
            keep = _HELD.search(text)
            cut = keep.start() if keep else len(text)
            self._arguments(text[:cut])
            self._r.held = text[cut:]
            return self._hold(start) if held else start
        body = text.rstrip()
        if self._r.fenced:
            body = body.removesuffix("```").rstrip()
        self._arguments(body)
        self._r.held = ""
        if tag != self.tags.close:
            self._current().problem = f"it has no {self.tags.close}"
        self._end_call()
        return start + len(tag) if tag == self.tags.close else start


DEEPSEEK_V3 = ToolFormat("deepseek_v3", DeepSeekV3ToolParser)
