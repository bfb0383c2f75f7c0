"""XML-style tool calls, as Qwen3-Coder and Qwen3.5 emit them.

    <tool_call>
    <function=get_weather>
    <parameter=city>
    Paris
    </parameter>
    <parameter=days>
    3
    </parameter>
    </function>
    </tool_call>

Each value loses one leading and one trailing newline and is typed by the tool's JSON
schema. The arguments are built as a JSON object string, `{"city": "Paris", "days": 3}`,
with `json.dumps` separators. String values stream as they arrive (a file's content can be
long); other values are written once their closing tag is seen.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tera_serve.parsing.param_types import convert_parameter, is_string_type, parameter_type
from tera_serve.parsing.tags import TOOL_CALL_TAGS, CallTags, skip_space, tag_set
from tera_serve.parsing.tool_base import TaggedToolParser, ToolFormat

FUNCTION_OPEN = "<function="
FUNCTION_CLOSE = "</function>"
PARAMETER_OPEN = "<parameter="
PARAMETER_CLOSE = "</parameter>"


class _Phase(enum.Enum):
    LEAD = "lead"  # before <function=
    FUNCTION_NAME = "function_name"
    SEEK = "seek"  # between parameters
    PARAMETER_NAME = "parameter_name"
    VALUE = "value"
    AFTER_FUNCTION = "after_function"


@dataclass
class _Reading:
    phase: _Phase = _Phase.LEAD
    name: list[str] = field(default_factory=list)  # function or parameter name so far
    schema: Mapping[str, Any] | None = None
    parameters: int = 0
    parameter: str = ""
    type_name: str | None = None
    value_started: bool = False
    newline_held: bool = False  # a value's last newline, dropped if the value ends there
    value: list[str] = field(default_factory=list)
    closed: bool = False  # the arguments object's `}` was written
    junk: bool = False


class Qwen3CoderToolParser(TaggedToolParser):
    format_name = "qwen3_coder"
    default_tags = TOOL_CALL_TAGS

    def _use_tags(self, tags: CallTags) -> None:
        close, open_ = tags.close, tags.open
        self._lead_tags = tag_set(FUNCTION_OPEN, close)
        self._seek_tags = tag_set(PARAMETER_OPEN, FUNCTION_CLOSE, close, open_)
        self._value_end_tags = tag_set(PARAMETER_CLOSE, PARAMETER_OPEN, FUNCTION_CLOSE, close)
        self._after_function_tags = tag_set(close, open_)

    def _start_call(self) -> None:
        self._r = _Reading()

    def _call_complete(self) -> bool:
        return self._r.phase is _Phase.AFTER_FUNCTION

    def _call_step(self, buf: str, at: int) -> int:
        phase = self._r.phase
        if phase is _Phase.LEAD:
            return self._lead_step(buf, at)
        if phase is _Phase.FUNCTION_NAME or phase is _Phase.PARAMETER_NAME:
            return self._name_step(buf, at)
        if phase is _Phase.SEEK:
            return self._seek_step(buf, at)
        if phase is _Phase.VALUE:
            return self._value_step(buf, at)
        return self._after_function_step(buf, at)

    def _lead_step(self, buf: str, at: int) -> int:
        pos = skip_space(buf, at)
        rest = buf[pos:]
        if not rest:
            return pos
        if rest.startswith(FUNCTION_OPEN):
            self._r.phase = _Phase.FUNCTION_NAME
            return pos + len(FUNCTION_OPEN)
        if self._lead_tags.is_prefix(rest):
            return self._hold(pos)
        self._fail("it does not start with <function=")
        return pos

    def _name_step(self, buf: str, at: int) -> int:
        r = self._r
        end = buf.find(">", at)
        piece = buf[at : len(buf) if end == -1 else end]
        if "<" in piece or "\n" in piece:
            self._fail("a function or parameter name is not closed by '>'")
            return at
        r.name.append(piece)
        if end == -1:
            return len(buf)
        name = "".join(r.name).strip()
        r.name.clear()
        if r.phase is _Phase.FUNCTION_NAME:
            self._function_named(name)
        else:
            self._parameter_named(name)
        return end + 1

    def _function_named(self, name: str) -> None:
        if not self._known_tool(name):
            self._fail(f"{name!r} is not one of the offered tools")
            return
        self._r.schema = self._schemas.get(name)
        self._report(name)
        self._arguments("{")
        self._r.phase = _Phase.SEEK

    def _parameter_named(self, name: str) -> None:
        r = self._r
        r.parameter = name
        r.type_name = parameter_type(r.schema, name)
        r.value_started = r.newline_held = False
        r.value.clear()
        if is_string_type(r.type_name):
            self._arguments(self._key_prefix() + '"')
        r.phase = _Phase.VALUE

    def _key_prefix(self) -> str:
        r = self._r
        separator = ", " if r.parameters else ""
        return f"{separator}{json.dumps(r.parameter, ensure_ascii=False)}: "

    def _seek_step(self, buf: str, at: int) -> int:
        start, tag, held = self._seek_tags.scan(buf, at)
        self._note_junk(buf[at:start])
        if tag is None:
            return self._hold(start) if held else start
        if tag == PARAMETER_OPEN:
            self._r.phase = _Phase.PARAMETER_NAME
            return start + len(tag)
        self._close_arguments()
        if tag == FUNCTION_CLOSE:
            self._r.phase = _Phase.AFTER_FUNCTION
            return start + len(tag)
        return self._finish_call(start, tag)

    def _note_junk(self, text: str) -> None:
        if text.strip():
            self._r.junk = True

    def _close_arguments(self) -> None:
        if not self._r.closed:
            self._r.closed = True
            self._arguments("}")

    def _finish_call(self, start: int, tag: str) -> int:
        """End the call at `tag` (</tool_call>, or a <tool_call> that opens the next one)."""
        if self._r.junk:
            self._current().problem = "text outside its parameters was dropped"
        self._end_call()
        return start + len(tag) if tag == self.tags.close else start

    def _value_step(self, buf: str, at: int) -> int:
        r = self._r
        end, tag, held = self._value_end_tags.scan(buf, at)
        text = buf[at:end]
        if text and not r.value_started:
            r.value_started = True
            text = text.removeprefix("\n")
        if r.newline_held:
            text = "\n" + text
        r.newline_held = text.endswith("\n")
        if r.newline_held:
            text = text[:-1]
        self._value_text(text)
        if tag is None:
            return self._hold(end) if held else end
        self._value_done()
        r.phase = _Phase.SEEK
        # A missing </parameter> is tolerated: the next tag ends the value too.
        return end + len(tag) if tag == PARAMETER_CLOSE else end

    def _value_text(self, text: str) -> None:
        if not text:
            return
        if is_string_type(self._r.type_name):
            self._arguments(json.dumps(text, ensure_ascii=False)[1:-1])
        else:
            self._r.value.append(text)

    def _value_done(self) -> None:
        r = self._r
        if is_string_type(r.type_name):
            self._arguments('"')
        else:
            value = convert_parameter("".join(r.value), r.type_name)
            self._arguments(self._key_prefix() + json.dumps(value, ensure_ascii=False))
        r.parameters += 1

    def _after_function_step(self, buf: str, at: int) -> int:
        start, tag, held = self._after_function_tags.scan(buf, at)
        self._note_junk(buf[at:start])
        if tag is None:
            return self._hold(start) if held else start
        return self._finish_call(start, tag)


QWEN3_CODER = ToolFormat("qwen3_coder", Qwen3CoderToolParser)
