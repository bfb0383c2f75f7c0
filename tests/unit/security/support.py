"""Keys files for tests, and tera-serve's real uvicorn server (in a thread) over the FakeEngine.

The threaded server gives real sockets (true disconnects, slow clients, the h11 limits)
without starting vLLM.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.engine.base import EngineRequest
from tera_serve.engine.fake import FakeEngine
from tera_serve.http.context import ServerContext
from tera_serve.security.keys import KeyRecord, hash_secret, new_secret, write_keys_file
from tera_serve.server import DrainingServer, build_server
from tests.support.fake_app import FAKE_MODEL_ID
from tests.support.live_server import free_port

CONTRACT_ERROR_FIELDS = {"message", "type", "param", "code"}


def is_anthropic_error(body: Any) -> bool:
    """Anthropic's shape, on the /v1/messages routes."""
    return (
        isinstance(body, dict)
        and body.get("type") == "error"
        and isinstance(body.get("error"), dict)
        and set(body["error"]) == {"type", "message"}
        and all(isinstance(v, str) for v in body["error"].values())
    )


def is_route_error(path: str, body: Any) -> bool:
    """The error shape of the route's protocol."""
    return is_anthropic_error(body) if path.startswith("/v1/messages") else is_contract_error(body)


def is_contract_error(body: Any) -> bool:
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return False
    error = body["error"]
    return (
        set(error) == CONTRACT_ERROR_FIELDS
        and isinstance(error["message"], str)
        and isinstance(error["type"], str)
        and (error["code"] is None or isinstance(error["code"], str))
        and (error["param"] is None or isinstance(error["param"], str))
    )


def make_keys_file(path: Path, specs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Write a keys file with one key per name (fields as KeyRecord's); returns the secrets."""
    secrets: dict[str, str] = {}
    records = []
    for name, fields in specs.items():
        secret = new_secret()
        secrets[name] = secret
        records.append(KeyRecord(name=name, sha256=hash_secret(secret), **fields))
    write_keys_file(path, records)
    return secrets


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def counting_script(tokenizer: Any, words: int) -> Any:
    """Answers with `words` words then EOS (slow when the engine has a step delay)."""
    ids = list(tokenizer.encode(" word" * words, add_special_tokens=False))
    ids.append(tokenizer.eos_token_id)

    def script(request: EngineRequest) -> Sequence[int]:
        return ids

    return script


@dataclass
class ThreadedServer:
    base_url: str
    engine: FakeEngine
    context: ServerContext
    server: DrainingServer
    thread: threading.Thread


@contextlib.contextmanager
def threaded_server(
    tokenizer_dir: Path,
    *,
    words: int = 8,
    step_delay_s: float = 0.0,
    **overrides: Any,
) -> Iterator[ThreadedServer]:
    """tera-serve's own uvicorn server (h11 limits, drain, guard) on a free loopback port."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    engine = FakeEngine(
        tokenizer,
        counting_script(tokenizer, words),
        eos_token_id=tokenizer.eos_token_id,
        model_path=str(tokenizer_dir),
        step_delay_s=step_delay_s,
    )
    model = ModelConfig(model=str(tokenizer_dir), served_model_name=FAKE_MODEL_ID)
    # Its start-up opens the response store: in memory, never the user's cache.
    overrides = {"responses_store": ":memory:", **overrides}
    config = ServerConfig(models=(model,), port=free_port(), **overrides)
    context = ServerContext(config=config, engine_factory=lambda *_: engine)
    server = build_server(context)
    thread = threading.Thread(target=server.run, name="tera-serve-test", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{config.port}"
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.HTTPError):
            health = httpx.get(base_url + "/health", timeout=2)
            if health.status_code == 200:
                break
            if "failed" in health.json().get("models", {}).values():
                server.should_exit = True
                raise RuntimeError(f"the fake model failed to load: {health.text}")
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the threaded tera-serve did not become healthy")
        time.sleep(0.05)
    try:
        yield ThreadedServer(base_url, engine, context, server, thread)
    finally:
        server.should_exit = True
        thread.join(30)
