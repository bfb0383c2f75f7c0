"""Keys as a hostile tenant would use them (issue 24, finding 1): ownership and limits hang
on the key's secret, never its name (DESIGN rule 12).

Once, a keys-file entry named `api-key` (the `--api-key` key's name) read that key's stored
responses, and a rotated key (a new secret under the same name) read the old secret's.
Now two keys sharing a name stop the start (and a reload), and a new secret is a new owner.
The rotation tests rewrite the shared hostile server's keys file and restore it after.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tera_serve.security.keys import (
    STATIC_KEY_NAME,
    KeyRecord,
    hash_secret,
    new_secret,
    read_keys_file,
    write_keys_file,
)
from tests.support import hostile
from tests.support.hostile import Target
from tests.support.live_server import LiveServer, free_port
from tests.unit.security.support import make_keys_file

pytestmark = pytest.mark.e2e

HANG_BOUND_S = 120.0
"""Only against hangs: the keys file is re-read within about a second of a change."""


def _wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG_BOUND_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


def _status(target: Target, path: str, secret: str) -> int:
    headers = {"Authorization": f"Bearer {secret}"}
    return httpx.get(target.base_url + path, headers=headers, timeout=30).status_code


def _known(target: Target, secret: str) -> bool:
    """The server holds this key (a 429 counts: the tpm key may be spent by other tests)."""
    return _status(target, "/v1/models", secret) != 401


def _store(target: Target, key: str) -> str:
    body = {"model": hostile.MODEL, "input": "hi", "max_output_tokens": 2}
    response = target.post("/v1/responses", body, key=key)
    assert response.status_code == 200, response.text
    response_id: str = response.json()["id"]
    assert _status(target, f"/v1/responses/{response_id}", target.secrets[key]) == 200
    return response_id


def _stored_paths(response_id: str) -> tuple[str, str]:
    return f"/v1/responses/{response_id}", f"/v1/responses/{response_id}/input_items"


def _replace_file(path: Path, text: str) -> None:
    """Atomically, so the server never reads half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def _keys_restored(target: Target, keys_file: Path) -> Iterator[None]:
    """Restore the shared server's keys file, and wait until its keys work again."""
    original = keys_file.read_text()
    try:
        yield
    finally:
        _replace_file(keys_file, original)
        _wait_until(
            lambda: all(_known(target, secret) for secret in target.secrets.values()),
            "the restored keys file is loaded",
        )


def test_a_keys_file_entry_named_like_the_api_key_stops_the_start(
    smollm_dir: Path, tmp_path: Path
) -> None:
    """Refused by the start-up checks (exit 2), before any engine or socket exists."""
    keys_file = tmp_path / "keys.yaml"
    make_keys_file(keys_file, {"user": {}, STATIC_KEY_NAME: {}})
    port = free_port()
    env = {**os.environ, "VLLM_RPC_BASE_PATH": str(tmp_path)}
    env.pop("TERA_API_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "tera_serve", "--port", str(port), "--api-key", new_secret(),
         "--keys-file", str(keys_file), "--responses-store", ":memory:"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=HANG_BOUND_S)
    finally:
        if process.poll() is None:  # the old behaviour: it started serving
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
    text = output.decode(errors="replace")
    # 2 is the CLI's configuration-error exit, taken before run_server() starts anything.
    assert process.returncode == 2, text
    assert f"two keys are named {STATIC_KEY_NAME!r}" in text, text
    assert "--api-key" in text and f"{keys_file}: keys[1]" in text, text
    assert "listening" not in text, text


def test_a_rotated_key_reads_nothing_the_old_secret_stored(
    hostile_server: tuple[LiveServer, Target, Path],
) -> None:
    """A new secret under a name (rotation), or a new key under a revoked key's name, is a
    new owner: 404 on everything the old secret stored; its own responses work as usual."""
    _server, target, keys_file = hostile_server
    records = {record.name: record for record in read_keys_file(keys_file)}
    users, ops = _store(target, "user"), _store(target, "ops")
    rotated = Target(target.base_url, {**target.secrets, "user": new_secret(), "ops": new_secret()})

    def as_new(name: str) -> KeyRecord:
        return dataclasses.replace(records[name], sha256=hash_secret(rotated.secrets[name]))

    with _keys_restored(target, keys_file):
        # "user" rotated to a new secret, "ops" revoked.
        write_keys_file(keys_file, [as_new("user"), records["tpm"]])
        _wait_until(
            lambda: (
                _known(target, rotated.secrets["user"])
                and _status(target, "/v1/models", target.secrets["ops"]) == 401
            ),
            "the rotation is loaded",
        )
        for path in _stored_paths(users):
            assert _status(target, path, rotated.secrets["user"]) == 404, path
        follow = {"model": hostile.MODEL, "input": "more", "previous_response_id": users}
        stolen = rotated.post("/v1/responses", follow, key="user")
        assert stolen.status_code == 404, stolen.text
        assert stolen.json()["error"]["param"] == "previous_response_id"
        # A new key under the revoked name "ops".
        write_keys_file(keys_file, [as_new("user"), as_new("ops"), records["tpm"]])
        _wait_until(lambda: _known(target, rotated.secrets["ops"]), "the new ops is loaded")
        for path in _stored_paths(ops):
            assert _status(target, path, rotated.secrets["ops"]) == 404, path
        # The rotated key owns what it stores itself.
        _store(rotated, "user")


def test_a_reload_with_two_keys_of_one_name_keeps_the_keys_and_names_both(
    hostile_server: tuple[LiveServer, Target, Path],
) -> None:
    server, target, keys_file = hostile_server
    records = list(read_keys_file(keys_file))
    intruder = new_secret()
    marker = "keeping the previous keys"
    seen = server.log_path.read_text(errors="replace").count(marker)
    with _keys_restored(target, keys_file):
        clash = KeyRecord(name="user", sha256=hash_secret(intruder))
        write_keys_file(keys_file, [*records, clash])

        def refused() -> bool:
            _known(target, intruder)  # the file is re-read when a request checks a key
            return server.log_path.read_text(errors="replace").count(marker) > seen

        _wait_until(refused, "the refused reload is logged")
        logged = [
            line
            for line in server.log_path.read_text(errors="replace").splitlines()
            if marker in line
        ][seen:]
        user_index = [r.name for r in records].index("user")
        assert "two keys are named 'user'" in logged[0], logged
        assert f"keys[{user_index}]" in logged[0] and f"keys[{len(records)}]" in logged[0]
        assert _status(target, "/v1/models", intruder) == 401
        assert _known(target, target.secrets["user"])
