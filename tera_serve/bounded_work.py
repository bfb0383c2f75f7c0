"""CPU work off the event loop (DESIGN rule 9): a bounded thread pool under a deadline, and
killable worker processes for the one kind of work whose cost cannot be bounded up front.

`offload()` is what request code calls for parsing, schema checks, tokenization, template
rendering and engine validation. Every such job is bounded before it starts (request and
schema size limits), so a job that has begun always ends soon; the deadline is about
waiting. A job still queued when its deadline passes is cancelled and never runs; a job
already running keeps its pool slot until it really ends, so the pool's count never
undercounts the CPU in use, and a full pool refuses new work with a 503 (the server is
busy; the client did nothing wrong) rather than letting honest requests time out behind
abandoned work.

`KillableRunner` runs a job in a fresh process forked from a forkserver; a job that
overruns its deadline is killed, and an address-space limit bounds its memory. Request
chat templates (Jinja code from the client, when a server allows them) run there.

The server's pool and runner reach request code through a context variable that the
guard middleware sets per request (the render helpers are called from deep inside the
chat code; threading the pool through every signature would touch every caller).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import multiprocessing
import multiprocessing.connection
import resource
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from tera_serve.errors import InvalidRequestError, ServiceUnavailableError

T = TypeVar("T")

RETRY_AFTER_S = "1"
DEFAULT_DEADLINE_S = 10.0


def busy_error(what: str, why: str) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"The server is busy ({why}) and could not start {what}; retry shortly.",
        code="server_busy",
        headers={"Retry-After": RETRY_AFTER_S},
    )


class WorkPool:
    """A fixed number of worker threads and a bounded backlog; every job under a deadline."""

    def __init__(self, workers: int, max_waiting: int, deadline_s: float) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tera-cpu")
        self._limit = workers + max_waiting
        self._outstanding = 0
        self.deadline_s = deadline_s

    @property
    def outstanding(self) -> int:
        """Jobs queued or running (a timed-out job that still runs counts until it ends)."""
        return self._outstanding

    async def run(self, fn: Callable[..., T], *args: Any, what: str) -> T:
        if self._outstanding >= self._limit:
            raise busy_error(what, f"{self._outstanding} jobs ahead")
        loop = asyncio.get_running_loop()
        self._outstanding += 1
        context = contextvars.copy_context()
        future: Future[T] = self._executor.submit(context.run, fn, *args)
        future.add_done_callback(lambda _: self._release_from_any_thread(loop))
        try:
            async with asyncio.timeout(self.deadline_s):
                return await asyncio.wrap_future(future)
        except TimeoutError:
            future.cancel()  # a job that has not started never will
            raise busy_error(what, f"it waited {self.deadline_s:g} s for a CPU worker") from None

    def _release_from_any_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        """When the job truly ends (or is cancelled unstarted), from whichever thread."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to count
            loop.call_soon_threadsafe(self._release)

    def _release(self) -> None:
        self._outstanding -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    value: Any = None
    error: str = ""


def _child_main(
    conn: multiprocessing.connection.Connection,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    memory_bytes: int,
) -> None:
    """In the worker process: cap the address space, run, send the outcome."""
    with contextlib.suppress(OSError, ValueError):
        current = _address_space_bytes()
        limit = current + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        outcome = _Outcome(True, fn(*args))
    except MemoryError:
        outcome = _Outcome(False, error="it needed more memory than allowed")
    except Exception as exc:  # the job's own failure, reported to the request
        outcome = _Outcome(False, error=f"{type(exc).__name__}: {exc}")
    try:
        conn.send(outcome)
    except Exception as exc:  # an unpicklable or too-large result
        conn.send(_Outcome(False, error=f"its result could not be returned: {exc}"))
    conn.close()


def _address_space_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmSize")


class KillableRunner:
    """At most `max_jobs` worker processes at once, each killed at its deadline."""

    def __init__(
        self,
        max_jobs: int,
        deadline_s: float,
        memory_bytes: int,
        preload: tuple[str, ...] = (),
    ) -> None:
        self._context = multiprocessing.get_context("forkserver")
        if preload:
            self._context.set_forkserver_preload(list(preload))
        self._max_jobs = max_jobs
        self._running = 0
        self.deadline_s = deadline_s
        self.memory_bytes = memory_bytes

    @property
    def running(self) -> int:
        return self._running

    async def run(self, fn: Callable[..., T], *args: Any, what: str, param: str | None) -> T:
        """`fn(*args)` in a fresh process; a job's own failure or overrun is a 400 on `param`."""
        if self._running >= self._max_jobs:
            raise busy_error(what, f"{self._running} sandboxed jobs running")
        self._running += 1
        try:
            outcome = await self._run_process(fn, args)
        finally:
            self._running -= 1
        if outcome is None:
            raise InvalidRequestError(
                f"{what} did not finish within {self.deadline_s:g} s and was stopped.",
                param=param,
            )
        if not outcome.ok:
            raise InvalidRequestError(f"{what} failed: {outcome.error}", param=param)
        result: T = outcome.value
        return result

    async def _run_process(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> _Outcome | None:
        loop = asyncio.get_running_loop()
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_child_main, args=(writer, fn, args, self.memory_bytes), daemon=True
        )
        try:
            # The first start launches the forkserver (a second or so): not on the loop.
            await asyncio.to_thread(process.start)
            writer.close()
            readable: asyncio.Future[None] = loop.create_future()

            def wake() -> None:
                if not readable.done():
                    readable.set_result(None)

            loop.add_reader(reader.fileno(), wake)
            try:
                async with asyncio.timeout(self.deadline_s):
                    await readable
            except TimeoutError:
                return None
            finally:
                loop.remove_reader(reader.fileno())
            try:
                outcome = reader.recv()
            except (EOFError, OSError):
                return _Outcome(False, error="the worker process died (memory limit?)")
            return outcome if isinstance(outcome, _Outcome) else _Outcome(False, error="bad reply")
        finally:
            reader.close()
            with contextlib.suppress(Exception):
                writer.close()
            if process.pid is not None:
                if process.is_alive():
                    process.kill()
                await asyncio.to_thread(process.join, 5)
                with contextlib.suppress(ValueError):
                    process.close()


@dataclass(frozen=True)
class Workers:
    """The server's pool and sandbox, as request code finds them."""

    pool: WorkPool
    sandbox: KillableRunner | None = None


_CURRENT: contextvars.ContextVar[Workers | None] = contextvars.ContextVar(
    "tera_serve_workers", default=None
)


@contextlib.contextmanager
def using_workers(workers: Workers) -> Iterator[None]:
    token = _CURRENT.set(workers)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_workers() -> Workers | None:
    return _CURRENT.get()


async def offload(fn: Callable[..., T], *args: Any, what: str) -> T:
    """Run `fn(*args)` off the loop: in the server's pool, or (outside a server request:
    tests, tools) in a plain thread under the same default deadline."""
    workers = _CURRENT.get()
    if workers is not None:
        return await workers.pool.run(fn, *args, what=what)
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), DEFAULT_DEADLINE_S)
    except TimeoutError:
        raise busy_error(what, f"it took longer than {DEFAULT_DEADLINE_S:g} s") from None


async def run_sandboxed(fn: Callable[..., T], *args: Any, what: str, param: str | None) -> T:
    """Run `fn(*args)` in a killable process (503 when no sandbox is configured here)."""
    workers = _CURRENT.get()
    if workers is None or workers.sandbox is None:
        raise ServiceUnavailableError(
            f"{what} needs the sandbox worker, which this server has not started.",
            code="sandbox_unavailable",
        )
    return await workers.sandbox.run(fn, *args, what=what, param=param)
