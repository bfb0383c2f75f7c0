"""Anthropic's `error.type` on its routes: a 4xx always carries a client type, a 5xx a server
one. The whole status table, then each status as the real server produces it on
/v1/messages and /v1/messages/count_tokens (tera-serve's uvicorn over the FakeEngine, real
sockets: the h11 refusals, the middleware's and the routes')."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tera_serve.adapters.messages_errors import anthropic_error_type
from tera_serve.adapters.protocols import error_json
from tera_serve.errors import HeadersTooLargeError, TeraError
from tests.support.fake_app import FAKE_MODEL_ID
from tests.support.raw_http import exchange, json_of, request_head, split_response
from tests.unit.security.support import (
    ThreadedServer,
    bearer,
    is_anthropic_error,
    make_keys_file,
    threaded_server,
)

CLIENT_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "conflict_error",
    "request_too_large",
    "rate_limit_error",
}
SERVER_TYPES = {"api_error", "overloaded_error", "timeout_error"}
EXPECTED = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",  # the client's body was too slow: not our timeout
    409: "conflict_error",
    413: "request_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    431: "invalid_request_error",
    499: "invalid_request_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ROUTES = ("/v1/messages", "/v1/messages/count_tokens")
MAX_HEADER_BYTES = 4096
MAX_BODY_BYTES = 64 * 1024


def _subclasses(cls: type[TeraError]) -> Iterator[type[TeraError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@pytest.mark.parametrize(("status", "kind"), sorted(EXPECTED.items()))
def test_the_status_table(status: int, kind: str) -> None:
    assert anthropic_error_type(status) == kind


def test_the_rule_is_total_over_every_status() -> None:
    for status in range(400, 500):
        assert anthropic_error_type(status) in CLIENT_TYPES, status
    for status in range(500, 600):
        assert anthropic_error_type(status) in SERVER_TYPES, status


def test_every_error_class_gets_its_side_of_the_table() -> None:
    classes = list(_subclasses(TeraError))
    assert HeadersTooLargeError in classes and len(classes) > 10
    for cls in classes:
        expected = CLIENT_TYPES if 400 <= cls.status < 500 else SERVER_TYPES
        assert anthropic_error_type(cls.status) in expected, cls


@pytest.mark.parametrize("path", ROUTES)
def test_the_431_body_on_each_anthropic_route(path: str) -> None:
    body = orjson.loads(error_json(HeadersTooLargeError(4096), path))
    assert body["error"]["type"] == "invalid_request_error" and is_anthropic_error(body)
    openai = orjson.loads(error_json(HeadersTooLargeError(4096), "/v1/chat/completions"))
    assert openai["error"]["code"] == "headers_too_large"


# --- each status from the real server -------------------------------------------------------


@pytest.fixture(scope="module")
def served(smollm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    keys = tmp_path_factory.mktemp("anthropic-types") / "keys.yaml"
    secrets = make_keys_file(
        keys, {"user": {}, "once": {"rpm": 1}, "elsewhere": {"models": ("other/model",)}}
    )
    with threaded_server(
        smollm_dir,
        keys_file=str(keys),
        max_header_bytes=MAX_HEADER_BYTES,
        max_body_bytes=MAX_BODY_BYTES,
        body_timeout_s=0.5,
    ) as server:
        yield server, secrets


def _body(path: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": "hi"}]}
    if path == "/v1/messages":
        body["max_tokens"] = 4
    return {**body, **extra}


def _type_of(status: int, raw_body: bytes | dict[str, Any]) -> str:
    body = json_of(raw_body) if isinstance(raw_body, bytes) else raw_body
    assert is_anthropic_error(body), (status, body)
    kind: str = body["error"]["type"]
    return kind


def _raw(server: ThreadedServer, *pieces: bytes) -> tuple[int, str]:
    status, _, body = split_response(exchange(server.base_url, *pieces))
    return status, _type_of(status, body)


@pytest.mark.parametrize("path", ROUTES)
def test_each_4xx_on_the_route_has_its_client_type(served: Any, path: str) -> None:
    server, secrets = served
    url = server.base_url + path
    user = bearer(secrets["user"])
    got: dict[int, str] = {}

    def record(response: httpx.Response) -> None:
        got[response.status_code] = _type_of(response.status_code, response.json())

    record(httpx.post(url, json=_body(path), timeout=10))  # no key
    record(httpx.get(url, headers=user, timeout=10))  # wrong method
    record(httpx.post(url, json=_body(path, model="nope/none"), headers=user, timeout=10))
    record(httpx.post(url, json=_body(path), headers=bearer(secrets["elsewhere"]), timeout=10))
    # A schema error is a 400, never FastAPI's 422.
    schema = httpx.post(url, json=_body(path, messages="hi"), headers=user, timeout=10)
    assert schema.status_code == 400
    record(schema)
    assert got == {
        401: "authentication_error",
        405: "invalid_request_error",
        404: "not_found_error",
        403: "permission_error",
        400: "invalid_request_error",
    }
    key = {"Authorization": f"Bearer {secrets['user']}", "Content-Type": "application/json"}
    # 413: declared larger than the limit (answered before the body is read).
    too_big = request_head("POST", path, {**key, "Content-Length": str(MAX_BODY_BYTES + 1)})
    assert _raw(server, too_big, b"{") == (413, "request_too_large")
    # 408: a body that stops arriving.
    slow = request_head("POST", path, {**key, "Content-Length": "500"})
    assert _raw(server, slow, b'{"model": ') == (408, "invalid_request_error")
    # 431: a head over the limit, whether it arrives whole (the middleware measures it) or
    # in pieces (h11 stops buffering it); both in the route's shape.
    big = {**key, "X-Big": "a" * MAX_HEADER_BYTES}
    assert _raw(server, request_head("POST", path, big)) == (431, "invalid_request_error")
    head = request_head("POST", path, big)
    unfinished = head[:-2]  # no blank line yet: h11 holds the head, and stops past the limit
    assert _raw(server, unfinished[:2000], unfinished[2000:]) == (431, "invalid_request_error")
    # 400 from h11: a malformed head, still in the route's shape.
    assert _raw(server, f"POST {path} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".encode()) == (
        400,
        "invalid_request_error",
    )


def test_a_rate_limited_message_is_a_rate_limit_error(served: Any) -> None:
    server, secrets = served
    url = server.base_url + "/v1/messages"
    once = bearer(secrets["once"])
    statuses = [
        httpx.post(url, json=_body("/v1/messages"), headers=once, timeout=10) for _ in range(2)
    ]
    assert [r.status_code for r in statuses] == [200, 429]
    assert _type_of(429, statuses[1].json()) == "rate_limit_error"
    assert int(statuses[1].headers["retry-after"]) >= 1


def test_a_wrong_content_type_is_read_as_json_not_refused(served: Any) -> None:
    """No route answers 415: the body is JSON whatever its label (tolerant of real clients);
    the table still maps a 415 to a client type."""
    server, secrets = served
    response = httpx.post(
        server.base_url + "/v1/messages",
        content=orjson.dumps(_body("/v1/messages")),
        headers={**bearer(secrets["user"]), "Content-Type": "text/plain"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"


def test_other_routes_keep_the_openai_shape(served: Any) -> None:
    server, secrets = served
    head = request_head(
        "POST", "/v1/chat/completions", {**bearer(secrets["user"]), "X-Big": "a" * 5000}
    )
    status, _, body = split_response(exchange(server.base_url, head[:2000], head[2000:-2]))
    error = json_of(body)["error"]
    assert status == 431 and error["type"] == "invalid_request_error"
    assert error["code"] == "headers_too_large"
