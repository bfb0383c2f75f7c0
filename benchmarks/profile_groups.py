"""Where a server's CPU goes, from a py-spy `--format raw` profile (collapsed stacks).

Each sample is one stack of one active thread (the event loop, or a thread of the bounded
CPU pool). A sample belongs to the group of its innermost frame that a rule names (walking
from the leaf outward), so work inside pydantic called from a route counts as parsing, and
h11 called from a middleware counts as HTTP; asyncio's and the pool threads' own machinery
count only as the leaf. Prints markdown: the groups' shares (and µs per request, given the
measured server CPU per request), then the top functions by own and by cumulative samples.

    .venv/bin/py-spy record --pid PID --format raw --full-filenames --threads \
        --nonblocking -r 250 -d 8 -o profile.txt
    .venv/bin/python benchmarks/profile_groups.py profile.txt --us-per-request 900
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")

_PATHS = {
    "pool hops": "tera_serve/bounded_work.py",
    "template/tokenization": "jinja2/ transformers/ tokenizers/ tera_serve/chat/ "
    "tera_serve/service/prepare tera_serve/service/tokenize.py tera_serve/core/prepared.py "
    "tera_serve/core/conversation.py tera_serve/families/",
    "body parsing/validation": "pydantic fastapi/dependencies/ fastapi/_compat "
    "starlette/requests.py tera_serve/protocol/ tera_serve/http/body.py "
    "tera_serve/http/validation.py tera_serve/service/body_bounds.py "
    "tera_serve/service/request_bounds.py tera_serve/service/schema_bounds.py "
    "tera_serve/service/sampling.py tera_serve/adapters/chat.py tera_serve/adapters/messages.py "
    "tera_serve/adapters/responses.py tera_serve/adapters/responses_body.py "
    "tera_serve/adapters/freeform_input.py tera_serve/adapters/openai_extras.py /json/decoder.py",
    "admission/accounting": "tera_serve/security/ tera_serve/metrics.py prometheus_client/ "
    "tera_serve/core/usage.py tera_serve/http/access.py tera_serve/http/request_id.py "
    "tera_serve/logging_setup.py /logging/ tera_serve/service/registry.py",
    "encoding": "_output.py tera_serve/adapters/openai_stream.py tera_serve/core/encoding.py "
    "tera_serve/core/events.py tera_serve/core/segmenter.py tera_serve/parsing/ "
    "starlette/responses.py /json/encoder.py",
    "generation driver + fake engine": "tera_serve/engine/ tera_serve/service/generation.py "
    "tera_serve/service/driver.py tera_serve/service/failures.py",
    "uvicorn/h11": "uvicorn/ h11/ starlette/ fastapi/ anyio/ httptools",
}
Rule = tuple[str, tuple[str, ...], tuple[str, ...]]
"""(group, path fragments, function names or () for any)."""
RULES: tuple[Rule, ...] = (
    # asyncio's side of a hop into the pool (the rest of asyncio is the loop, below).
    ("pool hops", ("asyncio/base_events.py",), ("run_in_executor", "call_soon_threadsafe")),
    ("pool hops", ("asyncio/futures.py",), ("_chain_future", "_copy_future_state", "wrap_future")),
    *((group, tuple(paths.split()), ()) for group, paths in _PATHS.items()),
)
"""The first rule a frame matches names its group."""
FALLBACK: tuple[Rule, ...] = (
    ("pool hops", ("concurrent/futures/", "/threading.py", "/queue.py"), ()),
    ("uvicorn/h11", ("asyncio/", "uvloop"), ()),
)
"""For the leaf frame only: the loop's and the pool threads' own machinery (every pool
thread's stack starts in threading.py; only its leaf is the hop's own cost)."""
IDLE_LEAVES = (("concurrent/futures/thread.py", "_worker"),)
"""A pool thread waiting for work (`work_queue.get`): py-spy sometimes counts it active."""
GROUPS = (
    "body parsing/validation",
    "pool hops",
    "template/tokenization",
    "admission/accounting",
    "encoding",
    "uvicorn/h11",
    "generation driver + fake engine",
    "other",
)


@dataclass(frozen=True)
class Frame:
    func: str
    file: str

    @property
    def name(self) -> str:
        short = self.file
        for marker in ("site-packages/", "/lib/python3", "/work/main/"):
            if marker in short:
                short = short.split(marker, 1)[1]
        return f"{self.func} ({short})"


@dataclass(frozen=True)
class Sample:
    thread: str
    frames: tuple[Frame, ...]
    """Outermost first."""
    count: int


def parse_raw(text: str) -> list[Sample]:
    """py-spy's raw (collapsed) lines: `thread (tid): Name;frame;frame... count`."""
    samples = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts = stack.split(";")
        frames = []
        for part in parts[1:]:
            match = FRAME.match(part)
            if match:
                frames.append(Frame(match["func"], match["file"]))
        samples.append(Sample(parts[0], tuple(frames), int(count)))
    return samples


def _matches(frame: Frame, rules: Sequence[Rule]) -> str:
    for group, paths, funcs in rules:
        if any(p in frame.file for p in paths) and (not funcs or frame.func in funcs):
            return group
    return ""


def group_of(sample: Sample) -> str:
    for frame in reversed(sample.frames):
        group = _matches(frame, RULES)
        if group:
            return group
    if sample.frames:
        return _matches(sample.frames[-1], FALLBACK) or "other"
    return "other"


def is_idle(sample: Sample) -> bool:
    if not sample.frames:
        return False
    leaf = sample.frames[-1]
    return any(path in leaf.file and leaf.func == func for path, func in IDLE_LEAVES)


@dataclass
class Summary:
    total: int
    idle: int
    groups: Counter[str]
    own: Counter[str]
    cumulative: Counter[str]
    threads: Counter[str]


def summarize(samples: Sequence[Sample]) -> Summary:
    groups: Counter[str] = Counter()
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    idle = 0
    for sample in samples:
        if is_idle(sample):
            idle += sample.count
            continue
        groups[group_of(sample)] += sample.count
        threads[re.sub(r"_\d+$", "_N", sample.thread.split(": ", 1)[-1])] += sample.count
        if sample.frames:
            own[sample.frames[-1].name] += sample.count
        for name in {frame.name for frame in sample.frames}:
            cumulative[name] += sample.count
    total = sum(s.count for s in samples) - idle
    return Summary(total, idle, groups, own, cumulative, threads)


def markdown(summary: Summary, us_per_request: float | None, top: int) -> str:
    total = summary.total or 1
    per = f" | µs/request (of {us_per_request:,.0f})" if us_per_request else ""
    lines = [
        f"Samples: {summary.total:,} (active threads only; {summary.idle:,} of pool threads "
        "waiting for work left out).",
        "",
    ]
    lines += [f"| group | share{per} |", "|---|---:|" + ("---:|" if per else "")]
    for group in GROUPS:
        share = summary.groups[group] / total
        cost = f" | {share * us_per_request:,.0f}" if us_per_request else ""
        lines.append(f"| {group} | {share:.1%}{cost} |")
    lines += ["", "| thread | share |", "|---|---:|"]
    for thread, count in summary.threads.most_common(6):
        lines.append(f"| {thread} | {count / total:.1%} |")
    for title, table in (("own", summary.own), ("cumulative", summary.cumulative)):
        lines += ["", f"Top {top} functions by {title} samples:", "", "| function | share |"]
        lines.append("|---|---:|")
        for name, count in table.most_common(top):
            lines.append(f"| `{name}` | {count / total:.1%} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("profile", type=Path, help="py-spy record --format raw output")
    parser.add_argument("--us-per-request", type=float, help="measured server CPU µs/request")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    text = markdown(summarize(parse_raw(args.profile.read_text())), args.us_per_request, args.top)
    sys.stdout.write(text)
    return text


if __name__ == "__main__":
    main()
