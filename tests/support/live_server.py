"""Start the real `tera-serve` process (real vLLM engine on the CPU) for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT_S = float(os.environ.get("TERA_TEST_START_TIMEOUT", "300"))
LOG_DIR = Path(os.environ.get("TERA_TEST_LOG_DIR", tempfile.gettempdir())) / "tera-serve-e2e"

# Fast-starting engine settings for tiny CPU models (eager mode, small context).
CPU_TEST_ENGINE_ARGS = ("--dtype", "float32", "--enforce-eager", "--max-model-len", "2048")
# The tiny Qwen3.5 vision model: bfloat16 (vLLM's CPU Gated-DeltaNet kernel takes no other
# dtype), small image bounds so bad-image tests need no large files, and URLs on for one
# name that resolves to loopback (the address check must refuse it).
VISION_TEST_ENGINE_ARGS = (
    "--dtype", "bfloat16", "--enforce-eager", "--max-model-len", "2048",
    "--max-images-per-request", "3", "--max-image-pixels", "1000000",
    "--allowed-media-domains", "localhost",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    responses_store: Path | None = None
    """The server's own SQLite response store (a temporary file, never the user's cache)."""

    @property
    def v1(self) -> str:
        return self.base_url + "/v1"

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines)

    def health(self) -> dict[str, object]:
        body: dict[str, object] = httpx.get(self.base_url + "/health", timeout=10).json()
        return body

    def unfinished_requests(self) -> int:
        models = self.health().get("engine_unfinished_requests", {})
        return sum(int(v) for v in models.values()) if isinstance(models, dict) else -1


def log_tail(path: Path, lines: int = 60) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def wait_healthy(
    base_url: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    timeout_s: float = START_TIMEOUT_S,
) -> None:
    """Poll /health until 200; fail with the log's tail if the server exits or stalls.

    Shared by the end-to-end tests and the benchmark runners."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early; log {log_path}:\n{log_tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base_url + "/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(
        f"server not healthy in {timeout_s:.0f} s; log {log_path}:\n{log_tail(log_path)}"
    )


@contextlib.contextmanager
def live_server(
    args: list[str], name: str, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Run `python -m tera_serve ARGS` on a free port until the block ends (then SIGTERM).

    Unless ARGS name one, the server's response store is a file in a temporary folder
    removed afterwards, so test runs never write into the user's cache."""
    port = free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name}-{port}.log"
    run_env = {**os.environ, **(env or {})}
    run_env["VLLM_RPC_BASE_PATH"] = tempfile.mkdtemp(prefix="tera-e2e-rpc-")
    store_dir = Path(tempfile.mkdtemp(prefix="tera-e2e-store-"))
    store: Path | None = None
    if not any(arg == "--responses-store" or arg.startswith("--responses-store=") for arg in args):
        store = store_dir / "responses.sqlite3"
        args = ["--responses-store", str(store), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tera_serve", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=run_env,
            start_new_session=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path, store)
    try:
        wait_healthy(server.base_url, process, log_path)
        yield server
    finally:
        stop(server)
        shutil.rmtree(store_dir, ignore_errors=True)


def stop(server: LiveServer, timeout_s: float = 60) -> int | None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.process.pid, signal.SIGKILL)  # engine-core children, if any remain
    return server.process.returncode
