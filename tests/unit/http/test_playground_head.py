"""HEAD on the playground's page and files answers as GET without a body: tera-serve's own
uvicorn over the FakeEngine, keys configured (the key check lets HEAD through on these
public paths), every byte on the wire read from a plain socket."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from tera_serve.playground import ASSET_PREFIX, ASSET_TYPES
from tests.support.raw_http import exchange, request_head, split_response
from tests.unit.security.support import ThreadedServer, make_keys_file, threaded_server

STATIC = Path(str(resources.files("tera_serve.playground") / "static"))
PER_RESPONSE = {"date", "x-tera-request-id"}


@pytest.fixture(scope="module")
def keyed(smollm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    keys = tmp_path_factory.mktemp("playground-head") / "keys.yaml"
    make_keys_file(keys, {"user": {}})
    with threaded_server(smollm_dir, keys_file=str(keys)) as server:
        yield server


def _answer(server: ThreadedServer, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    raw = exchange(server.base_url, request_head(method, path, {"Connection": "close"}))
    status, headers, body = split_response(raw)
    return status, {k: v for k, v in headers.items() if k not in PER_RESPONSE}, body


@pytest.mark.parametrize("name", ["index.html", *ASSET_TYPES])
def test_head_is_get_without_the_body(keyed: ThreadedServer, name: str) -> None:
    path = "/" if name == "index.html" else ASSET_PREFIX + name
    get_status, get_headers, get_body = _answer(keyed, "GET", path)
    assert get_status == 200 and get_body == (STATIC / name).read_bytes()
    head_status, head_headers, head_body = _answer(keyed, "HEAD", path)
    assert head_status == 200
    assert head_body == b""  # nothing after the head, and the server closed (Connection: close)
    assert head_headers == get_headers
    assert int(head_headers["content-length"]) == len(get_body)
    assert "content-security-policy" in head_headers


def test_head_elsewhere_still_needs_a_key(keyed: ThreadedServer) -> None:
    status, _, _ = _answer(keyed, "HEAD", "/playground/nope.js")
    assert status == 401
    status, _, _ = _answer(keyed, "HEAD", "/v1/models")
    assert status == 401


def test_head_of_a_missing_file_is_a_bodyless_404(smollm_dir: Path) -> None:
    with threaded_server(smollm_dir) as server:
        status, headers, body = _answer(server, "HEAD", "/playground/nope.js")
        assert status == 404 and body == b"" and int(headers["content-length"]) > 0
        status, _, _ = _answer(server, "POST", "/")
        assert status == 405
