"""Attacks on a running tera-serve, as a client with (or without) a valid key would try
them, and a /health prober that measures how the server holds up meanwhile.

Shared by tests/e2e/test_hostile_e2e.py (which asserts each outcome) and
benchmarks/hostile.py (which reports the worst /health latency under each attack).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from tests.support.live_server import LiveServer

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
HOSTILE_SERVER_ARGS = (
    "--max-model-len", "2048", "--allow-request-chat-template", "--cpu-work-timeout-s", "5",
    "--body-timeout-s", "4",
)  # fmt: skip
KEY_SPECS: dict[str, dict[str, Any]] = {
    "user": {},
    "ops": {"scopes": ("admin",)},
    "tpm": {"tpm": 1000},
}
TPM_N, TPM_MAX_TOKENS, TPM_PARALLEL = 16, 200, 32


@dataclass
class Target:
    base_url: str
    secrets: dict[str, str]

    def headers(self, key: str = "user") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[key]}"}

    def post(self, path: str, body: bytes | dict[str, Any], key: str = "user") -> httpx.Response:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        headers = {**self.headers(key), "content-type": "application/json"}
        return httpx.post(self.base_url + path, content=content, headers=headers, timeout=120)


@dataclass
class Outcome:
    """What one attack got back."""

    statuses: list[int]
    params: list[str | None] = field(default_factory=list)
    codes: list[str | None] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)
        error: dict[str, Any] = {}
        with contextlib.suppress(ValueError, AttributeError):
            body = response.json()
            error = body.get("error") or {} if isinstance(body, dict) else {}
        self.params.append(error.get("param"))
        self.codes.append(error.get("code"))


class HealthProber:
    """GET /health every 50 ms from a thread; the slowest answer (or failure) is kept."""

    def __init__(self, base_url: str) -> None:
        self._url = base_url + "/health"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.worst_s = 0.0
        self.failures = 0
        self.samples = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get(self._url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - started
                with self._lock:
                    self.samples += 1
                    self.worst_s = max(self.worst_s, elapsed)
                    self.failures += 0 if ok else 1
                self._stop.wait(0.05)

    def reset(self) -> None:
        with self._lock:
            self.worst_s, self.failures, self.samples = 0.0, 0, 0

    def __enter__(self) -> HealthProber:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(35)


def _parallel(count: int, call: Callable[[], httpx.Response]) -> list[httpx.Response]:
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def _timed(run: Callable[[Target], Outcome]) -> Callable[[Target], Outcome]:
    def wrapper(target: Target) -> Outcome:
        started = time.perf_counter()
        outcome = run(target)
        outcome.seconds = time.perf_counter() - started
        return outcome

    wrapper.__name__ = run.__name__
    wrapper.__doc__ = run.__doc__
    return wrapper


def chat(**extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4,
        **extra,
    }


@_timed
def tools_anyof(target: Target) -> Outcome:
    """2 concurrent forced-tool chats, 60 tools of `anyOf` × 20,000 (1.3 MB bodies)."""
    params = {"anyOf": [{}] * 20_000}
    tools = [{"type": "function", "function": {"name": f"f{i}", "parameters": params}}
             for i in range(60)]  # fmt: skip
    body = orjson.dumps(chat(tools=tools, tool_choice="required"))
    outcome = Outcome([])
    for response in _parallel(2, lambda: target.post("/v1/chat/completions", body)):
        outcome.add(response)
    outcome.notes["body_bytes"] = len(body)
    return outcome


@_timed
def detokenize_flood(target: Target) -> Outcome:
    """3 concurrent /detokenize bodies of 3.5 M token ids (7 MB each)."""
    body = b'{"model":"' + MODEL.encode() + b'","tokens":[' + b"1," * 3_499_999 + b"1]}"
    outcome = Outcome([])
    for response in _parallel(3, lambda: target.post("/detokenize", body)):
        outcome.add(response)
    outcome.notes["body_bytes"] = len(body)
    return outcome


@_timed
def completion_prompt_flood(target: Target) -> Outcome:
    """4 concurrent /v1/completions bodies of 1.5 M one-word prompts."""
    body = b'{"model":"' + MODEL.encode() + b'","max_tokens":1,"prompt":[' + b'"hi",' * 1_499_999
    body += b'"hi"]}'
    outcome = Outcome([])
    for response in _parallel(4, lambda: target.post("/v1/completions", body)):
        outcome.add(response)
    outcome.notes["body_bytes"] = len(body)
    return outcome


@_timed
def deep_tool_arguments(target: Target) -> Outcome:
    """An assistant tool call whose `arguments` is `[` × 5,000."""
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[" * 5000}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]  # fmt: skip
    outcome = Outcome([])
    outcome.add(target.post("/v1/chat/completions", chat(messages=messages)))
    outcome.add(target.post("/tokenize", {"model": MODEL, "messages": messages}))
    return outcome


@_timed
def enum_schema_tool(target: Target) -> Outcome:
    """A streamed chat whose tool schema has `{"enum": 5}` (once a mid-stream parser crash)."""
    tools = [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"x": {"enum": 5}}}}}]  # fmt: skip
    outcome = Outcome([])
    outcome.add(target.post("/v1/chat/completions", chat(tools=tools, stream=True)))
    return outcome


def _raw_exchange(target: Target, head: bytes, trickle_s: float) -> tuple[bytes, bool]:
    """Send `head`, then one byte a second; returns (response bytes, closed by the server)."""
    host, port = target.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=2)
    received = b""
    deadline = time.monotonic() + trickle_s
    try:
        sock.sendall(head)
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                data = None
            except ConnectionResetError:
                return received, True
            if data == b"":
                return received, True
            if data:
                received += data
            try:
                sock.sendall(b"x")
            except OSError:
                return received, True
            time.sleep(1)
        return received, False
    finally:
        sock.close()


@_timed
def early_answer_then_trickle(target: Target) -> Outcome:
    """`Content-Length: 999999999`, the early 401 / 413, then one byte a second."""
    outcome = Outcome([])
    for key in (None, "user"):
        auth = f"Authorization: Bearer {target.secrets[key]}\r\n".encode() if key else b""
        head = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + auth
            + b"Content-Length: 999999999\r\n\r\n{"
        )
        received, closed = _raw_exchange(target, head, trickle_s=12)
        status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1") else 0
        outcome.statuses.append(status)
        outcome.notes[f"closed_{key or 'nokey'}"] = closed
    return outcome


@_timed
def log_injection(target: Target) -> Outcome:
    """`GET /x%0aFAKE-LINE%20status=200`, with and without a key."""
    outcome = Outcome([])
    url = target.base_url + "/x%0aFAKE-LINE%20status=200"
    outcome.add(httpx.get(url, timeout=10))
    outcome.add(httpx.get(url, headers=target.headers(), timeout=10))
    return outcome


@_timed
def tpm_flood(target: Target) -> Outcome:
    """32 parallel chats with n: 16, max_tokens: 200, ignore_eos on a 1,000-tpm key."""
    body = chat(n=TPM_N, max_tokens=TPM_MAX_TOKENS, ignore_eos=True, temperature=1.0)
    outcome = Outcome([])
    used = 0
    for response in _parallel(
        TPM_PARALLEL, lambda: target.post("/v1/chat/completions", body, key="tpm")
    ):
        outcome.add(response)
        if response.status_code == 200:
            usage = response.json()["usage"]
            used += usage["prompt_tokens"] + usage["completion_tokens"]
    outcome.notes["tokens_served"] = used
    return outcome


@_timed
def request_template_loops(target: Target) -> Outcome:
    """A request chat template with nested `range()` loops, and one that allocates 2 GB."""
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    outcome = Outcome([])
    for template in (loops, "{{ 'x' * 2000000000 }}"):
        outcome.add(target.post("/v1/chat/completions", chat(chat_template=template)))
    return outcome


@_timed
def too_many_sequences(target: Target) -> Outcome:
    """/v1/completions with 5 prompts × n: 16 (80 sequences; the limit is 64)."""
    outcome = Outcome([])
    body = {"model": MODEL, "prompt": ["hi"] * 5, "n": 16, "max_tokens": 1}
    outcome.add(target.post("/v1/completions", body))
    return outcome


@_timed
def deep_body(target: Target) -> Outcome:
    """A body of `[` × 100,000 and one nested 5,000 objects deep."""
    outcome = Outcome([])
    outcome.add(target.post("/v1/chat/completions", b"[" * 100_000))
    outcome.add(target.post("/v1/chat/completions", b'{"a":' * 5000 + b"1" + b"}" * 5000))
    return outcome


ATTACKS: tuple[Callable[[Target], Outcome], ...] = (
    tools_anyof,
    detokenize_flood,
    completion_prompt_flood,
    deep_tool_arguments,
    enum_schema_tool,
    early_answer_then_trickle,
    log_injection,
    request_template_loops,
    too_many_sequences,
    deep_body,
    tpm_flood,
)


@contextlib.contextmanager
def probing(target: Target) -> Iterator[HealthProber]:
    with HealthProber(target.base_url) as prober:
        time.sleep(0.2)
        yield prober


HEALTH_HANG_BOUND_S = 10.0
"""A freeze bound against a hang (the loop stuck for good), not a latency claim: a loaded
2-core machine may answer slowly. benchmarks/hostile.py measures the worst latency."""


@contextlib.contextmanager
def watched(
    server: LiveServer, target: Target, hang_bound_s: float = HEALTH_HANG_BOUND_S
) -> Iterator[Target]:
    """The target with /health probed throughout; then what every hostile test checks:
    no /health failure nor hang, the server alive, no engine request left behind."""
    with probing(target) as prober:
        yield target
    assert prober.failures == 0, "the /health prober got an error"
    assert prober.samples > 0
    assert prober.worst_s < hang_bound_s, f"/health took {prober.worst_s:.2f} s"
    assert server.process.poll() is None
    assert server.unfinished_requests() == 0
