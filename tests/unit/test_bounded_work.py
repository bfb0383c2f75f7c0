"""The CPU pool and the killable sandbox (tera_serve/bounded_work.py)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from tera_serve.bounded_work import KillableRunner, Workers, WorkPool, offload, using_workers
from tera_serve.chat.template_sandbox import SANDBOX_PRELOAD, render_request_template
from tera_serve.errors import InvalidRequestError, ServiceUnavailableError


def _sleep(event: threading.Event, seconds: float) -> str:
    event.wait(seconds)
    return "done"


HANG_BOUND_S = 60.0  # a bound against a hang, not a latency claim (DESIGN rule 8)


def _forever(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    while True:
        time.sleep(0.01)


def _allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def _fail() -> None:
    raise ValueError("bad template")


async def test_a_full_pool_is_a_503_and_overrunning_work_keeps_its_slot() -> None:
    pool = WorkPool(workers=1, max_waiting=1, deadline_s=0.2)
    release = threading.Event()
    with pytest.raises(ServiceUnavailableError) as timed_out:
        await pool.run(_sleep, release, 30.0, what="a slow job")
    assert timed_out.value.headers["Retry-After"] and timed_out.value.code == "server_busy"
    assert pool.outstanding == 1  # it still runs: the pool does not pretend otherwise
    waiting = asyncio.ensure_future(pool.run(_sleep, release, 0.0, what="a queued job"))
    await asyncio.sleep(0.05)
    with pytest.raises(ServiceUnavailableError, match="busy"):
        await pool.run(_sleep, release, 0.0, what="one too many")  # 1 running + 1 waiting
    release.set()
    assert await waiting == "done"
    await asyncio.sleep(0.05)
    assert pool.outstanding == 0
    pool.close()


async def test_a_queued_job_past_its_deadline_never_runs() -> None:
    pool = WorkPool(workers=1, max_waiting=4, deadline_s=0.2)
    release = threading.Event()
    ran: list[int] = []
    blocker = asyncio.ensure_future(pool.run(_sleep, release, 5.0, what="blocker"))
    await asyncio.sleep(0.05)
    with pytest.raises(ServiceUnavailableError):
        await pool.run(ran.append, 1, what="queued")
    with pytest.raises(ServiceUnavailableError):
        await blocker  # past its deadline too (it runs on, holding its slot)
    release.set()
    await asyncio.sleep(0.05)
    assert ran == [] and pool.outstanding == 0
    pool.close()


async def test_offload_uses_the_current_pool() -> None:
    pool = WorkPool(workers=1, max_waiting=0, deadline_s=5)
    with using_workers(Workers(pool)):
        assert await offload(sum, [1, 2, 3], what="adding") == 6
    assert await offload(sum, [1], what="outside a server") == 1
    pool.close()


@pytest.fixture(scope="module")
def runner() -> KillableRunner:
    return KillableRunner(max_jobs=2, deadline_s=3.0, memory_bytes=256 * 1024 * 1024)


def _gone(pid: int) -> bool:
    """No such process, or a dead one its parent (the forkserver) has yet to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


async def test_an_overrunning_job_is_killed(runner: KillableRunner, tmp_path: Path) -> None:
    pid_file = tmp_path / "job.pid"
    job = runner.run(_forever, str(pid_file), what="The job", param="chat_template")
    with pytest.raises(InvalidRequestError, match="within 3 s and was stopped") as error:
        await asyncio.wait_for(job, HANG_BOUND_S)
    assert error.value.param == "chat_template"
    pid = int(pid_file.read_text())  # the job ran...
    for _ in range(int(HANG_BOUND_S / 0.05)):
        if _gone(pid):
            break
        await asyncio.sleep(0.05)
    assert _gone(pid)  # ...and its process was killed, not left looping
    assert runner.running == 0


async def test_memory_is_bounded_and_failures_are_400s(runner: KillableRunner) -> None:
    assert await runner.run(_allocate, 16, what="a small job", param=None) == 16 * 1024 * 1024
    with pytest.raises(InvalidRequestError, match="memory"):
        await runner.run(_allocate, 1024, what="a greedy job", param=None)
    with pytest.raises(InvalidRequestError, match="bad template"):
        await runner.run(_fail, what="a failing job", param=None)


async def test_request_templates_loop_and_allocate_only_within_bounds(smollm_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(smollm_dir))
    sandbox = KillableRunner(2, 3.0, 512 * 1024 * 1024, preload=SANDBOX_PRELOAD)
    pool = WorkPool(1, 1, 5)
    messages = [{"role": "user", "content": "hi"}]
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    with using_workers(Workers(pool, sandbox)):

        async def render(template: str) -> str:
            return await render_request_template(
                tokenizer,
                template,
                messages,
                tools=None,
                add_generation_prompt=True,
                template_kwargs=None,
                max_chars=1000,
            )

        assert await render("{{ bos_token }}{{ messages[0]['content'] }}") == "<|im_start|>hi"
        for hostile in (loops, "{{ 'x' * 2000000000 }}", "{{ 'x' * 5000 }}"):
            with pytest.raises(InvalidRequestError) as error:
                await render(hostile)
            assert error.value.param == "chat_template"
    pool.close()
