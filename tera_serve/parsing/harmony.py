"""Streaming parser for gpt-oss output (the harmony format), over harmony's StreamableParser.

Fed token ids only (the engine's text is ignored: the text is decoded here from the ids).
The encoding is the family's to give (chat/harmony.py loads it: one definition).
Routing per harmony message:
- a recipient `functions.NAME` (in the role header or after the channel, on commentary or
  even analysis) → a tool call, when tools were offered;
- `analysis` → reasoning; `final`, commentary preambles and anything else → content.
`<|call|>` and `<|return|>` end the output. Special tokens never reach content or reasoning.
The parser never raises: output that stops being valid harmony is returned as content.
"""

from __future__ import annotations

import codecs
import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from openai_harmony import HarmonyError, Role, StreamableParser

from tera_serve.parsing.base import OutputParser, ParsedDelta, ToolCallDelta, new_tool_call_id

logger = logging.getLogger(__name__)

FUNCTIONS_PREFIX = "functions."
_CHANNEL = "<|channel|>"
_RECIPIENT = re.compile(r" to=[^\s<]+")

Route = Literal["reasoning", "content", "call", "drop"]


@dataclass(frozen=True)
class _SpecialIds:
    start: int
    message: int
    end: int
    call: int
    return_: int


@functools.cache
def _special_ids(encoding: Any) -> _SpecialIds:
    def one(token: str) -> int:
        (token_id,) = encoding.encode(token, allowed_special={token})
        return int(token_id)

    return _SpecialIds(
        start=one("<|start|>"),
        message=one("<|message|>"),
        end=one("<|end|>"),
        call=one("<|call|>"),
        return_=one("<|return|>"),
    )


def _drop_channel_recipient(header: str) -> str:
    """`assistant to=X<|channel|>commentary to=X <|constrain|>json` → keep one recipient.

    gpt-oss sometimes names the recipient in both places, which harmony rejects.
    """
    role_part, sep, rest = header.partition(_CHANNEL)
    if not sep or " to=" not in role_part:
        return header
    return role_part + sep + _RECIPIENT.sub("", rest, count=1)


class HarmonyParser:
    """One choice's parser.

    Harmony's StreamableParser tracks the structure (header, channel, recipient, message
    ends); the text is decoded here from the non-special tokens, so that a special token
    inside a message (harmony would spell it out) never reaches the client. The cost per
    token is flat.
    """

    def __init__(
        self,
        encoding: Any,
        tool_names: frozenset[str],
        parallel_tool_calls: bool,
        *,
        new_call_id: Callable[[], str] = new_tool_call_id,
        prefix: Sequence[int] = (),
    ) -> None:
        self._enc = encoding
        self._ids = _special_ids(encoding)
        self._structural = frozenset(
            {self._ids.message, self._ids.end, self._ids.call, self._ids.return_}
        )
        self._tools_offered = bool(tool_names)
        self._parallel = parallel_tool_calls
        self._new_call_id = new_call_id
        # The prompt ends with `<|start|>assistant`: the output begins inside a header.
        self._parser = StreamableParser(self._enc, Role.ASSISTANT, strict=False)
        self._header: list[int] = []
        self._in_content = False
        self._route: Route = "content"
        self._decoder = _new_decoder()
        self._call_index = -1
        self._calls = 0
        self._reasoning_tokens = 0
        self._any_message = False
        self._fallen_back = False
        self._done = False
        if prefix:
            # Header tokens the prompt already holds (e.g. the final channel's opening).
            self.feed(list(prefix), "")

    @property
    def reasoning_tokens(self) -> int:
        return self._reasoning_tokens

    def feed(self, token_ids: list[int], text: str) -> ParsedDelta:
        out = ParsedDelta()
        for token in token_ids:
            if self._done:
                break
            self._token(token, out)
        return out

    def finish(self) -> ParsedDelta:
        out = ParsedDelta()
        if self._done:
            return out
        if not self._fallen_back and self._header and not self._any_message:
            # Never one complete header: the model did not speak harmony; its text is the
            # answer. A header cut short after real messages is only format, and is dropped.
            self._fall_back("the output ended inside the first message header", None, out)
        if self._in_content or self._fallen_back:
            self._emit(self._decoder.decode(b"", final=True), out)
        return out

    # -- one token ---------------------------------------------------------------------

    def _token(self, token: int, out: ParsedDelta) -> None:
        if self._fallen_back:
            self._fallback_token(token, out)
            return
        try:
            self._parser.process(token)
        except HarmonyError as exc:
            if not self._in_content and self._retry_header(token):
                self._header.append(token)
                self._start_message(out)
            else:
                self._fall_back(str(exc), token, out)
            return
        if not self._in_content:
            self._header.append(token)
            if token in self._structural:
                self._after_header(out)
            return
        if self._route == "reasoning":
            self._reasoning_tokens += 1
        if token in self._structural and self._state() != "Content":
            self._emit(self._decoder.decode(b"", final=True), out)
            self._in_content = False
            self._done = token in (self._ids.call, self._ids.return_)
        elif not self._enc.is_special_token(token):
            self._emit(self._decoder.decode(self._bytes(token)), out)

    def _state(self) -> str:
        # Read only after the tokens that can change it: then the state's JSON is small.
        return str(self._parser.state_data.get("state", ""))

    def _bytes(self, token: int) -> bytes:
        text: str = self._enc.decode([token], errors="surrogateescape")
        return text.encode("utf-8", "surrogateescape")

    def _after_header(self, out: ParsedDelta) -> None:
        state = self._state()
        if state == "Content":
            self._start_message(out)
        elif state == "ExpectStart":
            # The lenient parser let a message end inside its header: that was no header.
            self._fall_back("a message ended inside its header", None, out)

    def _start_message(self, out: ParsedDelta) -> None:
        channel = self._parser.current_channel
        recipient = self._parser.current_recipient or ""
        header_tokens = len(self._header)
        self._header = []
        self._in_content = True
        self._any_message = True
        self._decoder = _new_decoder()
        if recipient.startswith(FUNCTIONS_PREFIX) and self._tools_offered:
            if self._calls and not self._parallel:
                self._route = "drop"
                return
            self._route, self._call_index = "call", self._calls
            self._calls += 1
            out.tool_calls.append(
                ToolCallDelta(
                    index=self._call_index,
                    id=self._new_call_id(),
                    name=recipient[len(FUNCTIONS_PREFIX) :],
                )
            )
        elif channel == "analysis":
            self._route = "reasoning"
            self._reasoning_tokens += header_tokens
        else:
            self._route = "content"

    def _emit(self, delta: str, out: ParsedDelta) -> None:
        if not delta:
            return
        if self._route == "reasoning":
            out.reasoning += delta
        elif self._route == "content":
            out.content += delta
        elif self._route == "call":
            last = out.tool_calls[-1] if out.tool_calls else None
            if last is not None and last.index == self._call_index and last.id is None:
                # Coalesce fragments within one feed; the id/name delta stays separate.
                out.tool_calls[-1] = replace(last, arguments=last.arguments + delta)
            else:
                out.tool_calls.append(ToolCallDelta(index=self._call_index, arguments=delta))

    # -- recovery ----------------------------------------------------------------------

    def _retry_header(self, token: int) -> bool:
        """Re-parse a header harmony rejected, once fixed; True when that worked."""
        if token != self._ids.message or not self._header:
            return False
        text = self._enc.decode(self._header)
        fixed = _drop_channel_recipient(text)
        if fixed == text:
            return False
        tokens = list(self._enc.encode(fixed, allowed_special="all"))
        role = None if tokens[:1] == [self._ids.start] else Role.ASSISTANT
        parser = StreamableParser(self._enc, role, strict=False)
        try:
            for item in [*tokens, token]:
                parser.process(item)
        except HarmonyError:
            return False
        self._parser = parser
        return True

    def _fall_back(self, reason: str, token: int | None, out: ParsedDelta) -> None:
        """From here on, the text of every non-special token is content."""
        logger.warning("gpt-oss output is not valid harmony (%s); returning it as content", reason)
        if self._in_content:
            self._emit(self._decoder.decode(b"", final=True), out)
            pending = []
        else:
            pending = self._header
        self._fallen_back, self._route = True, "content"
        self._header, self._in_content = [], False
        self._decoder = _new_decoder()
        for item in [*pending, *([] if token is None else [token])]:
            self._fallback_token(item, out)

    def _fallback_token(self, token: int, out: ParsedDelta) -> None:
        if token in (self._ids.call, self._ids.return_):
            self._done = True
        elif not self._enc.is_special_token(token):
            self._emit(self._decoder.decode(self._bytes(token)), out)


def _new_decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


def make_harmony_parser(
    encoding: Any,
    tool_names: frozenset[str],
    parallel_tool_calls: bool,
    *,
    new_call_id: Callable[[], str] = new_tool_call_id,
    prefix: Sequence[int] = (),
) -> OutputParser:
    """A parser for one choice, on the gpt-oss `encoding` (chat/harmony.harmony_encoding).

    `tool_names` are the tools offered to the model; when empty, a call is returned as
    text. A call to a name not offered is still a call, as the model wrote it.
    `parallel_tool_calls=False` keeps only the first call.
    """
    return HarmonyParser(
        encoding, tool_names, parallel_tool_calls, new_call_id=new_call_id, prefix=prefix
    )
