"""Hermes-style tool calls, as Qwen2.5 / Qwen3 emit them.

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

The JSON is read incrementally (strings, escapes and nesting tracked across deltas), so a
`</tool_call>` inside a JSON string does not end the call. The arguments are streamed as
the model wrote the arguments object, from its `{` to its matching `}`: the fragments of a
call concatenate to exactly its final `arguments` string.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field

from tera_serve.parsing.tags import TOOL_CALL_TAGS, CallTags, skip_space, tag_set
from tera_serve.parsing.tool_base import TaggedToolParser, ToolFormat

_ARGUMENT_KEYS = frozenset({"arguments", "parameters"})
_IN_STRING = re.compile(r'["\\]')
_STRUCTURE = re.compile(r'[{}\[\]"<]')
_SCALAR_END = re.compile(r"[,}\]\s<]")
_SCALAR_START = frozenset("-0123456789tfn")


class _Phase(enum.Enum):
    LEAD = "lead"  # before the object's `{`
    KEY_OR_END = "key_or_end"
    KEY = "key"
    COLON = "colon"
    VALUE_START = "value_start"
    VALUE = "value"
    AFTER_VALUE = "after_value"
    AFTER_OBJECT = "after_object"  # waiting for </tool_call>


class _Target(enum.Enum):
    """What the value being read is for."""

    NAME = "name"
    ARGUMENTS = "arguments"  # an object: streamed as written
    ODD_ARGUMENTS = "odd_arguments"  # null, or a JSON string holding the object
    OTHER = "other"


@dataclass
class _Reading:
    phase: _Phase = _Phase.LEAD
    key: list[str] = field(default_factory=list)
    target: _Target = _Target.OTHER
    scalar: bool = False
    depth: int = 0
    in_string: bool = False
    escaped: bool = False
    value: list[str] = field(default_factory=list)
    name: str | None = None
    arguments_seen: bool = False
    held_arguments: list[str] = field(default_factory=list)  # until the name is known
    junk: bool = False


class HermesToolParser(TaggedToolParser):
    format_name = "hermes"
    default_tags = TOOL_CALL_TAGS

    def _use_tags(self, tags: CallTags) -> None:
        self._after_object_tags = tag_set(tags.close, tags.open)

    def _start_call(self) -> None:
        self._r = _Reading()

    def _call_complete(self) -> bool:
        return self._r.phase is _Phase.AFTER_OBJECT

    def _call_step(self, buf: str, at: int) -> int:
        phase = self._r.phase
        if phase is _Phase.VALUE:
            return self._value_step(buf, at)
        if phase is _Phase.KEY:
            return self._key_step(buf, at)
        if phase is _Phase.AFTER_OBJECT:
            return self._after_object_step(buf, at)
        pos = skip_space(buf, at)
        if pos == len(buf):
            return pos
        char = buf[pos]
        if char == "<":
            return self._angle(buf, pos)
        if phase is _Phase.LEAD:
            return self._expect(char == "{", pos, _Phase.KEY_OR_END, "it is not a JSON object")
        if phase is _Phase.KEY_OR_END:
            if char == "}":
                self._object_done()
                return pos + 1
            self._r.key.clear()
            return self._expect(char == '"', pos, _Phase.KEY, "expected a key")
        if phase is _Phase.COLON:
            return self._expect(char == ":", pos, _Phase.VALUE_START, "expected ':'")
        if phase is _Phase.AFTER_VALUE:
            if char == "}":
                self._object_done()
                return pos + 1
            return self._expect(char == ",", pos, _Phase.KEY_OR_END, "expected ',' or '}'")
        return self._value_start(char, pos)

    def _expect(self, ok: bool, pos: int, then: _Phase, reason: str) -> int:
        if not ok:
            self._fail(reason)
            return pos
        self._r.phase = then
        return pos + 1

    def _angle(self, buf: str, pos: int) -> int:
        """A `<` outside a JSON string: the end tag, part of it, or a broken call."""
        rest = buf[pos:]
        close = self.tags.close
        if rest.startswith(close):
            call = self._current()
            if not call.reported:
                self._fail("it ended before its JSON was complete")
                return pos  # the raw mode passes the end tag on as content
            if self._r.phase is _Phase.VALUE and self._r.target is _Target.ARGUMENTS:
                call.problem = "it ended inside its arguments"
            self._end_call()  # a missing outer `}` alone is harmless: the arguments are whole
            return pos + len(close)
        if close.startswith(rest):
            return self._hold(pos)
        self._fail("unexpected '<' in its JSON")
        return pos

    def _key_step(self, buf: str, at: int) -> int:
        end, closed = self._read_string(buf, at)
        self._r.key.append(buf[at:end])
        if closed:
            try:
                key = json.loads('"' + "".join(self._r.key))
            except ValueError:
                self._fail("a key is not a valid JSON string")
                return end
            self._r.target = self._target_for(key)
            self._r.phase = _Phase.COLON
        return end

    def _target_for(self, key: str) -> _Target:
        r = self._r
        if key == "name" and r.name is None:
            return _Target.NAME
        if key in _ARGUMENT_KEYS and not r.arguments_seen:
            return _Target.ARGUMENTS
        return _Target.OTHER

    def _read_string(self, buf: str, at: int) -> tuple[int, bool]:
        """Advance through a JSON string body; (position, whether its closing quote was read)."""
        r = self._r
        pos = at
        while pos < len(buf):
            if r.escaped:
                r.escaped = False
                pos += 1
                continue
            match = _IN_STRING.search(buf, pos)
            if match is None:
                return len(buf), False
            pos = match.end()
            if match.group() == "\\":
                r.escaped = True
            else:
                return pos, True
        return pos, False

    def _value_start(self, char: str, pos: int) -> int:
        r = self._r
        r.depth, r.in_string, r.scalar = 0, False, False
        if char == '"':
            r.in_string = True
        elif char in _SCALAR_START:
            r.scalar = True
        elif char not in "{[":
            self._fail("a value is not JSON")
            return pos
        r.value.clear()
        r.phase = _Phase.VALUE
        if r.target is _Target.ARGUMENTS:
            r.arguments_seen = True
            if char == "{":
                self._maybe_report()
            else:
                r.target = _Target.ODD_ARGUMENTS
        if char == '"':
            self._value_piece('"')
            return pos + 1
        return pos

    def _value_step(self, buf: str, at: int) -> int:
        r = self._r
        if r.scalar:
            match = _SCALAR_END.search(buf, at)
            end = match.start() if match else len(buf)
            self._value_piece(buf[at:end])
            if match is not None:
                self._value_done()
            return end
        pos = at
        done = angle = False
        while pos < len(buf):
            if r.in_string:
                pos, closed = self._read_string(buf, pos)
                if closed:
                    r.in_string = False
                    done = r.depth == 0
                    if done:
                        break
                continue
            match = _STRUCTURE.search(buf, pos)
            if match is None:
                pos = len(buf)
                break
            char = match.group()
            if char == "<":
                pos, angle = match.start(), True
                break
            pos = match.end()
            if char == '"':
                r.in_string = True
            elif char in "{[":
                r.depth += 1
            else:
                r.depth -= 1
                if r.depth == 0:
                    done = True
                    break
        self._value_piece(buf[at:pos])
        if done:
            self._value_done()
        elif angle:
            return self._angle(buf, pos)
        return pos

    def _value_piece(self, piece: str) -> None:
        r = self._r
        if r.target is _Target.ARGUMENTS:
            if self._current().reported:
                self._arguments(piece)
            else:
                r.held_arguments.append(piece)
        elif r.target is not _Target.OTHER:
            r.value.append(piece)

    def _value_done(self) -> None:
        r = self._r
        r.phase = _Phase.AFTER_VALUE
        target, r.target = r.target, _Target.OTHER
        if target is _Target.NAME:
            self._take_name("".join(r.value))
        elif target is _Target.ODD_ARGUMENTS:
            self._take_odd_arguments("".join(r.value))

    def _take_name(self, raw: str) -> None:
        try:
            name = json.loads(raw)
        except ValueError:
            name = None
        if not isinstance(name, str):
            self._fail("its name is not a JSON string")
        elif not self._known_tool(name):
            self._fail(f"{name!r} is not one of the offered tools")
        else:
            self._r.name = name
            self._maybe_report()

    def _take_odd_arguments(self, raw: str) -> None:
        """Arguments given as null or as a JSON string holding an object."""
        try:
            value = json.loads(raw)
            if value is None:
                text = "{}"
            elif isinstance(value, str) and isinstance(json.loads(value), dict):
                text = value.strip()
            else:
                raise ValueError(raw)
        except ValueError:
            self._fail("its arguments are not a JSON object")
            return
        self._r.held_arguments = [text]
        self._maybe_report()

    def _maybe_report(self) -> None:
        """Report once the name is known and the arguments have begun (or are known)."""
        r = self._r
        if self._current().reported or r.name is None or not r.arguments_seen:
            return
        if r.target is _Target.ODD_ARGUMENTS:
            return  # wait until the string is read and checked
        self._report(r.name)
        for piece in r.held_arguments:
            self._arguments(piece)
        r.held_arguments.clear()

    def _object_done(self) -> None:
        r = self._r
        if r.name is None:
            self._fail("it has no tool name")
            return
        if not r.arguments_seen:
            r.arguments_seen = True
            r.held_arguments = ["{}"]
            self._maybe_report()
        r.phase = _Phase.AFTER_OBJECT

    def _after_object_step(self, buf: str, at: int) -> int:
        # Text between the object and </tool_call> (a stray brace, say) is dropped.
        start, tag, held = self._after_object_tags.scan(buf, at)
        self._r.junk = self._r.junk or bool(buf[at:start].strip())
        if tag is None:
            return self._hold(start) if held else start
        if self._r.junk:
            self._current().problem = "text after its JSON was dropped"
        self._end_call()
        return start + len(tag) if tag == self.tags.close else start


HERMES = ToolFormat("hermes", HermesToolParser)
