"""The segmenter: the one place output is cut into blocks. However a parser's output is cut
into deltas, the blocks (kinds, order, text, calls) are the same, and the events are well
formed: every block starts once, gets deltas only while open (calls excepted, see below),
and ends once, before the next one starts."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from tera_serve.core.events import BlockDelta, BlockEnd, BlockKind, BlockStart, OutputEvent
from tera_serve.core.segmenter import Segmenter
from tera_serve.parsing.base import ParsedDelta, ToolCallDelta


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str
    call: tuple[str, str, int] | None = None


def blocks(events: list[OutputEvent]) -> list[Block]:
    """The blocks a client rebuilds, checking the events are well formed on the way."""
    built: dict[int, Block] = {}
    open_block: int | None = None
    ended: set[int] = set()
    for event in events:
        if isinstance(event, BlockStart):
            assert open_block is None, "a block starts while another is open"
            assert event.block == len(built), "blocks are numbered in order"
            assert (event.call is not None) == (event.kind is BlockKind.TOOL_CALL)
            call = (event.call.call_id, event.call.name, event.call.ordinal) if event.call else None
            built[event.block] = Block(event.kind, "", call)
            open_block = event.block
        elif isinstance(event, BlockDelta):
            assert event.block == open_block and event.text
            block = built[event.block]
            assert block.kind is event.kind
            built[event.block] = Block(block.kind, block.text + event.text, block.call)
        else:
            assert isinstance(event, BlockEnd)
            assert event.block == open_block and event.block not in ended
            ended.add(event.block)
            open_block = None
    assert open_block is None, "the last block was closed"
    return list(built.values())


def run(deltas: list[ParsedDelta]) -> list[OutputEvent]:
    segmenter = Segmenter()
    events: list[OutputEvent] = []
    for delta in deltas:
        events.extend(segmenter.feed(delta))
    events.extend(segmenter.close())
    return events


REASONING = "Let me think about the weather."
TEXT = "I will look it up."
ARGUMENTS = '{"city": "Paris", "unit": "c"}'


def whole() -> list[ParsedDelta]:
    return [
        ParsedDelta(
            reasoning=REASONING,
            content=TEXT,
            tool_calls=[
                ToolCallDelta(0, "call_a", "weather", ARGUMENTS),
                ToolCallDelta(1, "call_b", "time", "{}"),
            ],
        )
    ]


def rechunked(seed: int) -> list[ParsedDelta]:
    """The same output as `whole`, in random pieces (a call's first piece carries its id)."""
    rng = random.Random(seed)

    def pieces(text: str) -> list[str]:
        cuts = sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, rng.randint(1, 6))))
        return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

    out = [ParsedDelta(reasoning=p) for p in pieces(REASONING)]
    out += [ParsedDelta(content=p) for p in pieces(TEXT)]
    first, *rest = pieces(ARGUMENTS)
    out.append(ParsedDelta(tool_calls=[ToolCallDelta(0, "call_a", "weather", first)]))
    out += [ParsedDelta(tool_calls=[ToolCallDelta(0, arguments=p)]) for p in rest]
    out.append(ParsedDelta(tool_calls=[ToolCallDelta(1, "call_b", "time", "{}")]))
    return out


EXPECTED = [
    Block(BlockKind.REASONING, REASONING),
    Block(BlockKind.TEXT, TEXT),
    Block(BlockKind.TOOL_CALL, ARGUMENTS, ("call_a", "weather", 0)),
    Block(BlockKind.TOOL_CALL, "{}", ("call_b", "time", 1)),
]


def test_one_delta_holding_everything() -> None:
    assert blocks(run(whole())) == EXPECTED


@pytest.mark.parametrize("seed", range(20))
def test_any_cut_of_the_same_output_gives_the_same_blocks(seed: int) -> None:
    deltas = rechunked(seed)
    # Empty deltas (a token a parser held back) change nothing.
    for position in random.Random(seed).sample(range(len(deltas)), k=3):
        deltas.insert(position, ParsedDelta())
    assert blocks(run(deltas)) == EXPECTED


def test_per_token_text_is_one_delta_event() -> None:
    segmenter = Segmenter()
    first = segmenter.feed(ParsedDelta(content="a"))
    assert [type(e) for e in first] == [BlockStart, BlockDelta]
    assert segmenter.feed(ParsedDelta(content="b")) == (BlockDelta(0, BlockKind.TEXT, "b"),)


def test_a_kind_change_ends_the_block_before_the_next_starts() -> None:
    events = run([ParsedDelta(content="x"), ParsedDelta(reasoning="y"), ParsedDelta(content="z")])
    kinds = [b.kind for b in blocks(events)]
    assert kinds == [BlockKind.TEXT, BlockKind.REASONING, BlockKind.TEXT]
    assert isinstance(events[2], BlockEnd) and isinstance(events[3], BlockStart)


def test_called_tools_and_an_empty_output() -> None:
    segmenter = Segmenter()
    assert segmenter.feed(ParsedDelta(content="hi")) and not segmenter.called_tools
    segmenter.feed(ParsedDelta(tool_calls=[ToolCallDelta(0, "c", "f", "")]))
    assert segmenter.called_tools
    assert run([]) == []
    assert run([ParsedDelta()]) == []


def test_arguments_without_a_started_call_are_dropped() -> None:
    """A parser reports a call's id and name before its arguments; a stray piece has no
    block to go to."""
    assert run([ParsedDelta(tool_calls=[ToolCallDelta(3, arguments="{}")])]) == []
