"""A freeform (custom) tool call's text, read from its arguments as they stream.

Inside, a freeform call's arguments are JSON, `{"input": "<text>"}` (the model was offered
a function of one string; a grammar-forced answer is wrapped the same way). The Responses
API sends the text itself: `response.custom_tool_call_input.delta`s, then the whole input.
`FreeformInput` decodes the string value as its pieces arrive, each piece once (an escape
cut between two pieces waits for the rest), so the cost per delta stays flat. Arguments of
another shape (other keys first, not JSON) stream nothing; at the end their `input` is
read from the whole JSON, or, when that fails, the arguments are the input as written.
"""

from __future__ import annotations

import re

from tera_serve.core.conversation import FREEFORM_KEY, freeform_text

_HEAD = re.compile(r'\s*\{\s*"' + FREEFORM_KEY + r'"\s*:\s*"')
_MAX_HEAD = 64
"""Characters before the string starts, past which the arguments are not `{"input": "`."""
_PLAIN = re.compile(r'[^"\\]+')
"""A run of characters that stand for themselves (matched in C: a long delta of plain
text costs a few Python steps, not one per character)."""
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def whole_input(arguments: str) -> str:
    """The input of complete arguments: their `input` string, else the text as written."""
    text = freeform_text(arguments)
    return _without_lone_surrogates(text) if text is not None else arguments


def _without_lone_surrogates(text: str) -> str:
    """JSON may spell a lone surrogate (`\\ud800`), which no encoder of ours can write."""
    if not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class FreeformStream:
    """Feeds of argument text in, decoded input text out."""

    def __init__(self) -> None:
        self._head = ""
        self._state = "head"  # head | string | done | other
        self._pending = ""
        """An escape (or a high surrogate's escape) cut at the end of the last piece."""
        self._decoded: list[str] = []

    @property
    def decoded(self) -> str:
        """All the input text decoded so far."""
        return "".join(self._decoded)

    def feed(self, arguments: str) -> str:
        """The input text these arguments add (empty until the string has started)."""
        if self._state == "head":
            self._head += arguments
            match = _HEAD.match(self._head)
            if match is None:
                if len(self._head) > _MAX_HEAD or not _could_start(self._head):
                    self._state = "other"
                return ""
            self._state = "string"
            arguments = self._head[match.end() :]
            self._head = ""
        if self._state != "string":
            return ""
        text = self._decode(self._pending + arguments)
        self._decoded.append(text)
        return text

    def finish(self, arguments: str) -> str:
        """The whole input, given the whole arguments: what was streamed, when the
        arguments were `{"input": "..."}`, or read from the whole text otherwise."""
        if self._state in ("string", "done"):
            whole = whole_input(arguments)
            decoded = self.decoded
            # Cut short (max tokens): the streamed part is the input; else the JSON's.
            return whole if whole.startswith(decoded) and whole != arguments else decoded
        return whole_input(arguments)

    def _decode(self, text: str) -> str:
        out: list[str] = []
        i, n = 0, len(text)
        self._pending = ""
        while i < n:
            char = text[i]
            if char == '"':
                self._state = "done"
                break
            if char != "\\":
                run = _PLAIN.match(text, i)  # never None: text[i] is plain
                j = run.end() if run is not None else i + 1
                out.append(text[i:j])
                i = j
                continue
            if i + 1 >= n:
                self._pending = text[i:]
                break
            code = text[i + 1]
            if code in _SIMPLE:
                out.append(_SIMPLE[code])
                i += 2
                continue
            if code != "u":
                out.append(text[i : i + 2])  # not JSON: kept as written
                i += 2
                continue
            if i + 6 > n:
                self._pending = text[i:]
                break
            unit = int(text[i + 2 : i + 6], 16) if _is_hex(text[i + 2 : i + 6]) else -1
            if unit < 0:
                out.append(text[i : i + 6])
                i += 6
            elif 0xD800 <= unit < 0xDC00:
                if i + 12 > n:
                    self._pending = text[i:]
                    break
                low = text[i + 6 : i + 12]
                if (
                    low.startswith("\\u")
                    and _is_hex(low[2:])
                    and 0xDC00 <= int(low[2:], 16) < 0xE000
                ):
                    pair = 0x10000 + ((unit - 0xD800) << 10) + (int(low[2:], 16) - 0xDC00)
                    out.append(chr(pair))
                    i += 12
                else:
                    out.append("\ufffd")
                    i += 6
            else:
                out.append("\ufffd" if 0xDC00 <= unit < 0xE000 else chr(unit))
                i += 6
        return "".join(out)


def _is_hex(text: str) -> bool:
    return len(text) == 4 and all(c in "0123456789abcdefABCDEF" for c in text)


def _could_start(head: str) -> bool:
    """Whether more text could still make `head` the start of `{"input": "`."""
    stripped = head.lstrip()
    target = '{"' + FREEFORM_KEY + '":"'
    compact = re.sub(r"\s+", "", stripped)
    return target.startswith(compact) or compact.startswith(target)
