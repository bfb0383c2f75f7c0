"""Per-token cost of the output parsers at 100 and 10,000 output tokens (it should be flat).

Each parser is fed a realistic Qwen3 output one token at a time, as the engine delivers it:
real token ids and text deltas from the real Qwen3 tokenizer (tests/fixtures/qwen3.py), with
the long part (reasoning, a tool argument, a file's content) repeated to the wanted length.

    .venv/bin/python benchmarks/parser_cost.py      # writes benchmarks/results/parser_cost.md
"""

from __future__ import annotations

import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "parser_cost.md"
LENGTHS = (100, 10_000)
PARAGRAPH = (
    "The user wants a short plan for three days in Lisbon. First, I should check the "
    "weather, then suggest one museum per day and a dinner place near the river. "
)
TOOLS = {
    "write_file": {
        "type": "object",
        "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
    }
}

Feed = tuple[list[int], str]


def _token_deltas(tokenizer: Any, text: str) -> list[Feed]:
    ids = tokenizer.encode(text, add_special_tokens=False)
    out: list[Feed] = []
    emitted = ""
    for end in range(1, len(ids) + 1):
        decoded = tokenizer.decode(ids[:end])
        if decoded.endswith("\ufffd"):
            out.append(([ids[end - 1]], ""))
            continue
        out.append(([ids[end - 1]], decoded[len(emitted) :]))
        emitted = decoded
    return out


def _stream(tokenizer: Any, prefix: str, suffix: str, total: int) -> list[Feed]:
    """prefix + the paragraph repeated + suffix, `total` tokens in all."""
    head = _token_deltas(tokenizer, prefix)
    tail = _token_deltas(tokenizer, suffix)
    body = _token_deltas(tokenizer, PARAGRAPH)
    middle: list[Feed] = []
    while len(head) + len(middle) + len(tail) < total:
        middle.extend(body)
    middle = middle[: max(0, total - len(head) - len(tail))]
    return head + middle + tail


def _scenarios(tokenizer: Any) -> dict[str, tuple[Callable[[], Any], tuple[str, str]]]:
    from tera_serve.parsing.base import PlainParser
    from tera_serve.parsing.hermes import HERMES
    from tera_serve.parsing.qwen3_coder import QWEN3_CODER
    from tera_serve.parsing.qwen3_reasoning import ThinkTokenIds
    from tera_serve.parsing.tagged_chain import make_tagged_chain

    ids = ThinkTokenIds.from_tokenizer(tokenizer)
    names = frozenset({"write_file"})

    def qwen(**options: Any) -> Callable[[], Any]:
        return lambda: make_tagged_chain(think_token_ids=ids, tool_schemas=TOOLS, **options)

    hermes_open = '<tool_call>\n{"name": "write_file", "arguments": {"path": "a.md", "content": "'
    coder_open = "<tool_call>\n<function=write_file>\n<parameter=content>\n"
    return {
        "plain (baseline)": (PlainParser, ("", "")),
        "qwen3 reasoning": (
            qwen(reasoning=True, tool_format=None),
            ("<think>\n", "\n</think>\n\nDone."),
        ),
        "hermes (long argument)": (
            qwen(reasoning=False, tool_format=HERMES, tool_names=names),
            (hermes_open, '"}}\n</tool_call>'),
        ),
        "qwen3_coder (long value)": (
            qwen(reasoning=False, tool_format=QWEN3_CODER, tool_names=names),
            (coder_open, "\n</parameter>\n</function>\n</tool_call>"),
        ),
        "qwen3 + hermes (think, then call)": (
            qwen(reasoning=True, tool_format=HERMES, tool_names=names),
            ("<think>\n", "\n</think>\n\n" + hermes_open + 'x"}}\n</tool_call>'),
        ),
    }


def _harmony_stream(total: int) -> list[Feed]:
    """A gpt-oss answer: `total` tokens of analysis, then a short final answer."""
    from tera_serve.chat.harmony import harmony_encoding

    enc = harmony_encoding()

    def tokens(text: str) -> list[int]:
        return list(enc.encode(text, allowed_special="all"))

    head = tokens("<|channel|>analysis<|message|>")
    tail = tokens("<|end|><|start|>assistant<|channel|>final<|message|>Done.<|return|>")
    body = tokens(PARAGRAPH)
    middle: list[int] = []
    while len(head) + len(middle) + len(tail) < total:
        middle.extend(body)
    middle = middle[: max(0, total - len(head) - len(tail))]
    return [([t], "") for t in head + middle + tail]


def _harmony_row() -> tuple[str, float, float, float, float]:
    from tera_serve.chat.harmony import harmony_encoding
    from tera_serve.parsing.harmony import make_harmony_parser

    def make() -> Any:
        return make_harmony_parser(harmony_encoding(), frozenset(), True)

    costs = [_us_per_token(make, _harmony_stream(length)) for length in LENGTHS]
    peak = _peak_kib(make, _harmony_stream(LENGTHS[-1]))
    label = "harmony (analysis, then final)"
    print(f"{label:36s} {costs[0]:7.2f} µs/token @100  {costs[1]:7.2f} µs/token @10k")
    return (label, costs[0], costs[1], costs[1] / costs[0], peak)


def _run(make: Callable[[], Any], feeds: list[Feed]) -> None:
    parser = make()
    for token_ids, text in feeds:
        parser.feed(token_ids, text)
    parser.finish()


def _us_per_token(make: Callable[[], Any], feeds: list[Feed]) -> float:
    repeats = max(3, 20_000 // len(feeds))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            _run(make, feeds)
        best = min(best, (time.perf_counter() - start) / repeats)
    return best / len(feeds) * 1e6


def _peak_kib(make: Callable[[], Any], feeds: list[Feed]) -> float:
    tracemalloc.start()
    _run(make, feeds)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1024


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.qwen3 import qwen3_tokenizer

    tokenizer = qwen3_tokenizer()
    rows = []
    for label, (make, (prefix, suffix)) in _scenarios(tokenizer).items():
        costs = []
        for length in LENGTHS:
            feeds = _stream(tokenizer, prefix, suffix, length)
            costs.append(_us_per_token(make, feeds))
        peak = _peak_kib(make, _stream(tokenizer, prefix, suffix, LENGTHS[-1]))
        rows.append((label, *costs, costs[1] / costs[0], peak))
        print(f"{label:36s} {costs[0]:7.2f} µs/token @100  {costs[1]:7.2f} µs/token @10k")
    rows.append(_harmony_row())
    header = (
        "| parser (fed one token at a time) | µs/token, 100 tokens | µs/token, 10,000 tokens "
        "| ratio | peak KiB while parsing 10,000 |\n|---|---:|---:|---:|---:|\n"
    )
    table = "".join(
        f"| {label} | {a:.2f} | {b:.2f} | {ratio:.2f} | {peak:.0f} |\n"
        for label, a, b, ratio, peak in rows
    )
    machine = f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# Output parser cost per token\n\n"
        "`benchmarks/parser_cost.py`: realistic Qwen3 outputs (real tokenizer) and a gpt-oss "
        "harmony answer (real harmony vocabulary), fed one token per delta. A flat cost "
        "(ratio near 1) means no rescanning as the output grows. "
        "Peak memory counts what the parser allocates while parsing (outputs discarded).\n\n"
        f"Machine: {machine}; a shared 2-core development box, so absolute numbers are noisy.\n\n"
        + header
        + table
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
