"""The test run's peak memory: pytest and every process it started (the e2e servers, their
vLLM engine cores, the browser), sampled once a second.

The sum is of each process's PSS (shared pages split between the processes sharing them),
so libraries mapped by many processes are counted once. The peak, what ran at that moment,
and the budget are printed at the end of the run and written to
`$TERA_TEST_LOG_DIR/tera-serve-e2e/memory.json`. A run over the budget
(`TERA_TEST_MEMORY_BUDGET_GIB`, 12 by default: half of a 24 GiB CI machine) fails, because
the e2e servers together once ran such a machine out of memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BUDGET_GIB = float(os.environ.get("TERA_TEST_MEMORY_BUDGET_GIB", "12"))
SAMPLE_S = 1.0
GIB = 1024**3


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(entry.path, "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(root: int) -> list[int]:
    tree, found, todo = _children(), [root], [root]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _pss_bytes(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def _command(pid: int) -> str:
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
        return raw.decode(errors="replace")[:160]
    return ""


@dataclass
class MemoryWatch:
    root: int
    peak_bytes: int = 0
    peak_test: str = ""
    peak_processes: list[tuple[int, str]] = field(default_factory=list)
    current_test: str = ""
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        sizes = [(pid, _pss_bytes(pid)) for pid in _descendants(self.root)]
        total = sum(size for _, size in sizes)
        self.samples += 1
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_test = total, self.current_test
            big = sorted(sizes, key=lambda s: -s[1])[:12]
            self.peak_processes = [(size, _command(pid)) for pid, size in big if size]

    def run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()

    def stop(self) -> None:
        self._stop.set()

    def report(self) -> dict[str, object]:
        return {
            "peak_gib": round(self.peak_bytes / GIB, 2),
            "budget_gib": BUDGET_GIB,
            "peak_during": self.peak_test,
            "samples": self.samples,
            "processes_at_peak": [
                {"pss_gib": round(size / GIB, 2), "command": command}
                for size, command in self.peak_processes
            ],
        }


_WATCH_KEY = pytest.StashKey[MemoryWatch]()


def pytest_sessionstart(session: pytest.Session) -> None:
    watch = MemoryWatch(os.getpid())
    session.config.stash[_WATCH_KEY] = watch
    threading.Thread(target=watch.run, name="memory-watch", daemon=True).start()


def pytest_runtest_setup(item: pytest.Item) -> None:
    watch = item.config.stash.get(_WATCH_KEY, None)
    if watch is not None:
        watch.current_test = item.nodeid


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    watch = session.config.stash.get(_WATCH_KEY, None)
    if watch is None:
        return
    watch.stop()
    watch.sample()
    report = watch.report()
    folder = Path(os.environ.get("TERA_TEST_LOG_DIR", tempfile.gettempdir())) / "tera-serve-e2e"
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "memory.json").write_text(json.dumps(report, indent=2) + "\n")
    if watch.peak_bytes > BUDGET_GIB * GIB and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    watch = terminalreporter.config.stash.get(_WATCH_KEY, None)
    if watch is None or not watch.samples:
        return
    report = watch.report()
    over = watch.peak_bytes > BUDGET_GIB * GIB
    terminalreporter.write_sep("-", "memory of the test run (pytest and every process it started)")
    terminalreporter.write_line(
        f"peak {report['peak_gib']} GiB PSS (budget {BUDGET_GIB:g} GiB"
        f"{', OVER: the run fails' if over else ''}) during {watch.peak_test or 'start-up'}"
    )
    for process in report["processes_at_peak"]:  # type: ignore[attr-defined]
        terminalreporter.write_line(f"  {process['pss_gib']:>6} GiB  {process['command']}")
