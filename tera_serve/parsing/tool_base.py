"""What the tag-delimited tool-call parsers (hermes, qwen3_coder, deepseek_v3) share.

Each format wraps a call in its own tags (the stage's `CallTags`: Qwen's
`<tool_call>...</tool_call>`, DeepSeek's special tokens, which also wrap the run of calls).
The base class handles the text around calls, call ids and indexes, botched calls and the
one-call limit; a subclass reads the inside of a call. Every decision depends only on the
text seen so far, never on where the deltas were cut, so a whole output and any
re-chunking of it give the same message.

A call is reported (index, id, name) as soon as its name is known to be an offered tool and
its arguments begin; argument fragments then stream. Until that point a call that turns out
botched (not the expected format, an unknown tool, the output ending) is given back as
content, raw. After that point a call cannot be taken back from a stream: a later problem
is logged and the call keeps the arguments it streamed.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tera_serve.parsing.base import ParsedDelta, ToolCallDelta, new_tool_call_id
from tera_serve.parsing.tags import CallTags, tag_set

logger = logging.getLogger(__name__)


class ContentSink:
    """Content around tool calls. Whitespace that only separates text from a call is dropped."""

    def __init__(self) -> None:
        self._out: list[str] = []
        self._space: list[str] = []  # trailing whitespace, held until we know what follows
        self._after_call = False

    def text(self, text: str) -> None:
        body = text.rstrip()
        trailing = text[len(body) :]
        if not body:
            if trailing and not self._after_call:
                self._space.append(trailing)
            return
        if self._after_call:
            body = body.lstrip()
            self._after_call = False
        elif self._space:
            self._out.extend(self._space)
            self._space.clear()
        self._out.append(body)
        if trailing:
            self._space.append(trailing)

    def begin_call(self) -> str:
        """A call starts: drop the held whitespace (returned, in case the call is botched)."""
        space = "".join(self._space)
        self._space.clear()
        return space

    def end_call(self) -> None:
        self._after_call = True

    def flush(self) -> None:
        self._out.extend(self._space)
        self._space.clear()

    def take(self) -> str:
        text = "".join(self._out)
        self._out.clear()
        return text


class _Mode(enum.Enum):
    TEXT = "text"  # content, looking for <tool_call>
    CALL = "call"  # inside a call; the subclass reads it
    RAW = "raw"  # a botched call: its text is content up to </tool_call>
    SKIP = "skip"  # a reported call went wrong: drop its text up to </tool_call>


@dataclass
class CallRecord:
    lead_space: str
    suppressed: bool
    """Over the call limit (parallel_tool_calls=false): parsed to find its end, never shown."""
    raw: list[str] = field(default_factory=list)
    reported: bool = False
    """Reported as a call, or given back as content: either way nothing is collected."""
    index: int = -1
    arguments: list[str] = field(default_factory=list)
    botched: str | None = None
    problem: str | None = None


class TaggedToolParser(ABC):
    """Content and tool calls out of the content part of a model's output."""

    format_name = "tool"
    default_tags: ClassVar[CallTags]
    """The tags the format's models write; a stage may be given others."""

    def __init__(
        self,
        tool_names: Collection[str],
        *,
        tags: CallTags | None = None,
        tool_schemas: Mapping[str, Any] | None = None,
        max_calls: int | None = None,
        new_call_id: Callable[[], str] = new_tool_call_id,
    ) -> None:
        self.tags = tags or self.default_tags
        self._text_tags = tag_set(self.tags.open, *self.tags.block_tags())
        self._until_close = tag_set(self.tags.close, self.tags.open)
        self._use_tags(self.tags)
        self._schemas: Mapping[str, Any] = tool_schemas or {}
        self._tool_names = frozenset(tool_names)
        self._max_calls = max_calls
        self._new_call_id = new_call_id
        self._mode = _Mode.TEXT
        self._tail = ""
        self._need_more = False
        self._sink = ContentSink()
        self._deltas: list[ToolCallDelta] = []
        self._call: CallRecord | None = None
        self._reported = 0

    reasoning_tokens = 0

    def feed(self, token_ids: list[int], text: str) -> ParsedDelta:
        """A parser stage fed the content after reasoning (the token ids are not needed)."""
        buf = self._tail + text if self._tail else text
        self._tail = ""
        at = 0
        while at < len(buf):
            call = self._call if self._mode is _Mode.CALL else None
            start = at
            self._need_more = False
            at = self._step(buf, at)
            if call is not None and not call.reported:
                call.raw.append(buf[start:at])
                if call.botched is not None:
                    self._flush_botched(call)
            if self._need_more:
                self._tail = buf[at:]
                break
        return self._take()

    def finish(self) -> ParsedDelta:
        tail, self._tail = self._tail, ""
        call = self._call
        if self._mode is _Mode.TEXT:
            self._sink.text(tail)
        elif call is not None and self._mode is _Mode.RAW:
            if not call.suppressed:
                self._sink.text(tail)
        elif call is not None and self._mode is _Mode.CALL and not call.reported:
            call.raw.append(tail)
            call.botched = "the output ended inside it"
            self._flush_botched(call)
        elif call is not None:
            if self._mode is _Mode.SKIP or not self._call_complete():
                call.problem = call.problem or "the output ended inside it"
            self._end_call()
        self._sink.flush()
        return self._take()

    # -- for subclasses -------------------------------------------------------------------

    @abstractmethod
    def _use_tags(self, tags: CallTags) -> None:
        """Build the format's own tag sets from the stage's tags (once, at creation)."""

    @abstractmethod
    def _start_call(self) -> None:
        """Reset the per-call reading state."""

    @abstractmethod
    def _call_step(self, buf: str, at: int) -> int:
        """Read the inside of a call from `buf[at:]`; return how far it consumed."""

    def _call_complete(self) -> bool:
        """Whether the call read so far is whole (only its closing tag missing)."""
        return False

    def _hold(self, at: int) -> int:
        """Stop here: `buf[at:]` may be part of a tag; wait for more text."""
        self._need_more = True
        return at

    def _current(self) -> CallRecord:
        if self._call is None:  # only reachable through a bug in a subclass
            raise RuntimeError("no tool call in progress")
        return self._call

    def _known_tool(self, name: str) -> bool:
        return name in self._tool_names

    def _report(self, name: str) -> None:
        """The call is real: emit its index, id and name."""
        call = self._current()
        call.reported = True
        call.raw.clear()
        if call.suppressed:
            return
        call.index = self._reported
        self._reported += 1
        self._deltas.append(ToolCallDelta(index=call.index, id=self._new_call_id(), name=name))

    def _arguments(self, fragment: str) -> None:
        call = self._current()
        if not fragment:
            return
        call.arguments.append(fragment)
        if call.suppressed:
            return
        last = self._deltas[-1] if self._deltas else None
        if last is not None and last.index == call.index:
            # One delta per call per feed: fewer, larger fragments for the same arguments.
            self._deltas[-1] = dataclasses.replace(last, arguments=last.arguments + fragment)
        else:
            self._deltas.append(ToolCallDelta(index=call.index, arguments=fragment))

    def _fail(self, reason: str) -> None:
        """The call is not in the expected format."""
        call = self._current()
        if call.reported:
            call.problem = reason
            self._mode = _Mode.SKIP
        else:
            call.botched = reason
            self._mode = _Mode.RAW

    def _end_call(self) -> None:
        call = self._current()
        self._call = None
        self._mode = _Mode.TEXT
        self._sink.end_call()
        if call.suppressed:
            logger.warning(
                "%s: dropped a further tool call (parallel_tool_calls is false)", self.format_name
            )
            return
        problem = call.problem
        if problem is None:
            try:
                if not isinstance(json.loads("".join(call.arguments)), dict):
                    problem = "its arguments are not a JSON object"
            except ValueError:
                problem = "its arguments are not valid JSON"
        if problem is not None:
            logger.warning(
                "%s: tool call %d kept as streamed, but %s", self.format_name, call.index, problem
            )

    # -- internals ------------------------------------------------------------------------

    def _flush_botched(self, call: CallRecord) -> None:
        if not call.suppressed:
            logger.warning(
                "%s: a %s block is not a valid call (%s); kept as content",
                self.format_name,
                self.tags.open,
                call.botched,
            )
            self._sink.text(call.lead_space + self.tags.open + "".join(call.raw))
        call.raw.clear()
        call.reported = True  # nothing more to collect: its text now flows as content

    def _step(self, buf: str, at: int) -> int:
        if self._mode is _Mode.CALL:
            return self._call_step(buf, at)
        if self._mode is _Mode.TEXT:
            return self._text_step(buf, at)
        return self._until_close_step(buf, at)

    def _text_step(self, buf: str, at: int) -> int:
        start, tag, held = self._text_tags.scan(buf, at)
        self._sink.text(buf[at:start])
        if tag is None:
            return self._hold(start) if held else start
        if tag != self.tags.open:
            return start + len(tag)  # a wrapper around a run of calls: dropped
        limit = self._max_calls
        self._call = CallRecord(
            lead_space=self._sink.begin_call(),
            suppressed=limit is not None and self._reported >= limit,
        )
        self._mode = _Mode.CALL
        self._start_call()
        return start + len(tag)

    def _until_close_step(self, buf: str, at: int) -> int:
        call = self._current()
        shown = self._mode is _Mode.RAW and not call.suppressed
        start, tag, held = self._until_close.scan(buf, at)
        if tag is None:
            if shown:
                self._sink.text(buf[at:start])
            return self._hold(start) if held else start
        end = start + len(tag) if tag == self.tags.close else start
        if shown:
            self._sink.text(buf[at:end])
        if self._mode is _Mode.SKIP:
            self._end_call()
        else:
            self._call = None
            self._mode = _Mode.TEXT
        return end

    def _take(self) -> ParsedDelta:
        deltas, self._deltas = self._deltas, []
        return ParsedDelta(content=self._sink.take(), tool_calls=deltas)


@dataclass(frozen=True)
class ToolFormat:
    """One tool-call format as a family declares it: vLLM's name for it, its parser stage
    and the tags its models write."""

    vllm_name: str
    parser: type[TaggedToolParser]

    @property
    def tags(self) -> CallTags:
        return self.parser.default_tags

    def stage(
        self,
        tool_names: Collection[str],
        *,
        tool_schemas: Mapping[str, Any] | None = None,
        parallel_tool_calls: bool = True,
        new_call_id: Callable[[], str] = new_tool_call_id,
    ) -> TaggedToolParser:
        return self.parser(
            tool_names,
            tool_schemas=tool_schemas,
            max_calls=None if parallel_tool_calls else 1,
            new_call_id=new_call_id,
        )
