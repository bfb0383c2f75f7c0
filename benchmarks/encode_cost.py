"""Per-token cost of the path from a parser's output to a protocol's frames: the core's
segmenter, the step, the usage count and each protocol's stream encoder (or its folder),
for a text answer, a reasoning trace and a tool call's streamed arguments.

No server and no engine: the steps are what the generation runner makes per engine delta,
so the numbers are the per-token work the typed events cost beside the parsers
(benchmarks/parser_cost.py) and the whole frontend (benchmarks/frontend.py).

    .venv/bin/python benchmarks/encode_cost.py      # writes benchmarks/results/encode_cost.md
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "encode_cost.md"
TOKENS = 50_000
REPEATS = 5


def _deltas(kind: str) -> list[Any]:
    from tera_serve.parsing.base import ParsedDelta, ToolCallDelta

    if kind == "text":
        return [ParsedDelta(content=" word") for _ in range(TOKENS)]
    if kind == "reasoning":
        return [ParsedDelta(reasoning=" thought") for _ in range(TOKENS)]
    start = ParsedDelta(tool_calls=[ToolCallDelta(0, "call_1", "write_file", '{"content": "')])
    return [start] + [
        ParsedDelta(tool_calls=[ToolCallDelta(0, arguments=" line")]) for _ in range(TOKENS - 1)
    ]


def _targets() -> dict[str, Callable[[], Any]]:
    from tera_serve.adapters.chat_output import ChatChunkEncoder, ChatFolder, ChatOptions
    from tera_serve.adapters.messages_output import (
        MessagesFolder,
        MessagesOptions,
        MessagesStreamEncoder,
    )
    from tera_serve.adapters.responses_body import OutputRules, ResponseHead
    from tera_serve.adapters.responses_output import ResponsesFolder, ResponsesStreamEncoder
    from tera_serve.core.prepared import PreparedAnswer

    answer = PreparedAnswer("r1", "m", 3, (3,), stream=True)
    chat = ChatOptions(reasoning_fields=("reasoning_content",))
    head = ResponseHead("resp_r1", 0, "m", {}, OutputRules())
    return {
        "chat stream": lambda: ChatChunkEncoder(answer, chat),
        "chat fold": lambda: ChatFolder(answer, chat),
        "messages stream": lambda: MessagesStreamEncoder(answer, MessagesOptions()),
        "messages fold": lambda: MessagesFolder(answer, MessagesOptions()),
        "responses stream": lambda: ResponsesStreamEncoder(answer, head, None),
        "responses fold": lambda: ResponsesFolder(answer, head, None),
    }


def _per_token_us(make: Callable[[], Any], deltas: list[Any]) -> float:
    from tera_serve.core.events import Step
    from tera_serve.core.segmenter import Segmenter
    from tera_serve.core.usage import UsageCounter

    target = make()
    feed = target.frames if hasattr(target, "frames") else target.add
    segmenter, usage = Segmenter(), UsageCounter(prompt_tokens=3)
    started = time.perf_counter()
    for delta in deltas:
        step = Step(0, segmenter.feed(delta), 1, None, None, None, None)
        usage.add(step)
        feed(step)
    return (time.perf_counter() - started) / len(deltas) * 1e6


def main() -> None:
    kinds = ("text", "reasoning", "tool arguments")
    deltas = {kind: _deltas(kind.split()[0]) for kind in kinds}
    rows = []
    for name, make in _targets().items():
        cells = [min(_per_token_us(make, deltas[k]) for _ in range(REPEATS)) for k in kinds]
        rows.append((name, cells))
        print(name, " ".join(f"{c:.2f}" for c in cells), flush=True)
    header = "| target | " + " | ".join(f"{k} µs/token" for k in kinds) + " |\n"
    lines = [
        "# Per-token cost: segmenter, step, usage and encoder\n\n",
        "`.venv/bin/python benchmarks/encode_cost.py`\n\n",
        f"{TOKENS:,} parser deltas of one kind fed one at a time through the core's segmenter "
        f"into each protocol's stream encoder or folder; the best of {REPEATS} runs. Python "
        f"{sys.version.split()[0]} on {platform.machine()}; a shared 2-core box.\n\n",
        header,
        "|---|" + "---:|" * len(kinds) + "\n",
    ]
    lines += [
        f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + " |\n" for name, cells in rows
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("".join(lines))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
