"""End-to-end servers: the real `tera-serve` process and real vLLM on the CPU.

The shared servers below are session fixtures that start on first use and stop right after
the last test that needs them (`pytest_runtest_teardown`), and the e2e modules run grouped
by the shared server they use (`pytest_collection_modifyitems`): so only one or two model
servers are up at any time, which keeps the suite's peak memory inside its budget
(tests/support/memory_watch.py reports it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import hostile
from tests.support.hostile import Target
from tests.support.live_server import (
    CPU_TEST_ENGINE_ARGS,
    VISION_TEST_ENGINE_ARGS,
    LiveServer,
    live_server,
    stop,
)
from tests.unit.security.support import make_keys_file

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
QWEN = "tera-test/tiny-qwen3"
OSS = "tera-test/tiny-gpt-oss"
QWEN35 = "tera-test/tiny-qwen3.5-vl"
DEEPSEEK = "tera-test/scripted-deepseek-v3"

# The shared servers, in the order their users run.
SHARED_SERVERS = (
    "default_server",
    "hostile_server",
    "qwen_server",
    "oss_server",
    "deepseek_server",
    "vision_server",
)
_running: dict[str, LiveServer] = {}


def _shared(name: str, server: LiveServer) -> LiveServer:
    _running[name] = server
    return server


def _uses(item: pytest.Item) -> set[str]:
    """The shared servers a test needs: its fixtures, and those it asks for by a parameter's
    name (`request.getfixturevalue(fixture)`, as the per-family tests do)."""
    names = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        names.update(v for v in callspec.params.values() if isinstance(v, str))
    return names.intersection(SHARED_SERVERS)


def _shared_rank(item: pytest.Item) -> int:
    """The group a test runs in: that of the last shared server it uses, so a server an
    earlier group started stays up for it, rather than a later one starting early."""
    used = [i for i, name in enumerate(SHARED_SERVERS) if name in _uses(item)]
    return max(used) if used else len(SHARED_SERVERS)


def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Unit tests first, then the e2e tests grouped by shared server (`_shared_rank`).

    A test that uses no shared server stays with its module's first group, so a module's
    own server (a module fixture) starts once. Order is kept within each group."""
    module_rank: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        module_rank[module] = min(module_rank.get(module, len(SHARED_SERVERS)), _shared_rank(item))
    modules = list(module_rank)

    def key(entry: tuple[int, pytest.Item]) -> tuple[int, int, int, int]:
        position, item = entry
        module = item.nodeid.split("::")[0]
        if "/e2e/" not in f"/{module}":
            return 0, 0, 0, position
        rank = _shared_rank(item)
        rank = rank if rank < len(SHARED_SERVERS) else module_rank[module]
        return 1, rank, modules.index(module), position

    items[:] = [item for _, item in sorted(enumerate(items), key=key)]


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop each shared server once no test still to run needs it: last, after the test's
    own fixtures have torn down (they may still check the server, as the hostile probers do)."""
    if not _running:
        return
    items = item.session.items
    rest = items[items.index(nextitem) :] if nextitem is not None else []
    for name in list(_running):
        if not any(name in _uses(later) for later in rest):
            stop(_running.pop(name))


def warm_up(server: LiveServer, model: str) -> None:
    """The first request through a fresh CPU engine pays one-off start-up costs."""
    httpx.post(
        server.v1 + "/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        timeout=120,
    ).raise_for_status()


@pytest.fixture(scope="session")
def default_server(smollm_dir: object) -> Iterator[LiveServer]:
    """`tera-serve` with no --model: the embedded SmolLM2-135M-Instruct."""
    with live_server([], "default") as server:
        warm_up(server, DEFAULT_MODEL)
        yield _shared("default_server", server)


@pytest.fixture(scope="session")
def hostile_server(
    smollm_dir: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, Target, Path]]:
    """The embedded default models behind a keys file (tests/support/hostile.KEY_SPECS),
    shared by the hostile modules: (server, target with each key's secret, keys file)."""
    keys_file = tmp_path_factory.mktemp("hostile") / "keys.yaml"
    secrets = make_keys_file(keys_file, hostile.KEY_SPECS)
    # Without the embedding model: the hostile modules attack the text and speech routes,
    # and ~1.2 GiB less keeps the suite inside its memory budget.
    args = [
        "--keys-file",
        str(keys_file),
        "--no-embedded-embeddings",
        *hostile.HOSTILE_SERVER_ARGS,
    ]
    with live_server(args, "hostile") as server:
        target = Target(server.base_url, secrets)
        warm = target.post("/v1/chat/completions", hostile.chat(max_tokens=2))
        assert warm.status_code == 200, warm.text
        _shared("hostile_server", server)
        yield server, target, keys_file


@pytest.fixture(scope="session")
def qwen_server(tiny_qwen3_dir: Path) -> Iterator[LiveServer]:
    """The tiny Qwen3 (reasoning, hermes tools), shared by every protocol's tests."""
    with live_server(
        ["--model", str(tiny_qwen3_dir), "--served-model-name", QWEN, *CPU_TEST_ENGINE_ARGS], "qwen"
    ) as server:
        yield _shared("qwen_server", server)


@pytest.fixture(scope="session")
def oss_server(tiny_gpt_oss_dir: Path) -> Iterator[LiveServer]:
    """The tiny gpt-oss (harmony), shared by every protocol's tests."""
    with live_server(
        ["--model", str(tiny_gpt_oss_dir), "--served-model-name", OSS, *CPU_TEST_ENGINE_ARGS],
        "gpt-oss",
    ) as server:
        yield _shared("oss_server", server)


@pytest.fixture(scope="session")
def deepseek_server() -> Iterator[LiveServer]:
    """The scripted DeepSeek-V3-tokenizer model (think, tool call, answer), for the family's
    tests on every protocol."""
    from tests.fixtures.deepseek_v3 import build_scripted_deepseek_v3

    args = ["--model", str(build_scripted_deepseek_v3()), "--served-model-name", DEEPSEEK]
    with live_server([*args, *CPU_TEST_ENGINE_ARGS], "deepseek-v3") as server:
        yield _shared("deepseek_server", server)


@pytest.fixture(scope="session")
def vision_server(tiny_qwen35_dir: Path) -> Iterator[LiveServer]:
    """The tiny Qwen3.5 vision model (images, XML tools, template-opened thinking)."""
    args = ["--model", str(tiny_qwen35_dir), "--served-model-name", QWEN35]
    with live_server([*args, *VISION_TEST_ENGINE_ARGS], "qwen3.5") as server:
        yield _shared("vision_server", server)
