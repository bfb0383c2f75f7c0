"""Every invalid input gets its documented 4xx while the server keeps serving others."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import DEFAULT_MODEL
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

MSG = [{"role": "user", "content": "hi"}]


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": DEFAULT_MODEL, "messages": MSG, "max_tokens": 2, **fields}


# (name, body (dict, or raw bytes), status, error type, param, code)
CASES: list[tuple[str, Any, int, str, str | None, str | None]] = [
    (
        "unknown model",
        chat(model="no/such-model"),
        404,
        "model_not_found",
        "model",
        "model_not_found",
    ),
    (
        "temperature too high",
        chat(temperature=2.5),
        400,
        "invalid_request_error",
        "temperature",
        None,
    ),
    (
        "temperature negative",
        chat(temperature=-0.1),
        400,
        "invalid_request_error",
        "temperature",
        None,
    ),
    ("top_p zero", chat(top_p=0), 400, "invalid_request_error", "top_p", None),
    ("top_p above one", chat(top_p=1.5), 400, "invalid_request_error", "top_p", None),
    (
        "frequency_penalty",
        chat(frequency_penalty=3),
        400,
        "invalid_request_error",
        "frequency_penalty",
        None,
    ),
    (
        "presence_penalty",
        chat(presence_penalty=-3),
        400,
        "invalid_request_error",
        "presence_penalty",
        None,
    ),
    ("n zero", chat(n=0), 400, "invalid_request_error", "n", None),
    ("max_tokens zero", chat(max_tokens=0), 400, "invalid_request_error", "max_tokens", None),
    ("max_tokens negative", chat(max_tokens=-5), 400, "invalid_request_error", "max_tokens", None),
    ("empty messages", chat(messages=[]), 400, "invalid_request_error", "messages", None),
    (
        "unknown role",
        chat(messages=[{"role": "wizard", "content": "x"}]),
        400,
        "invalid_request_error",
        "messages[0].role",
        None,
    ),
    (
        "content wrong type",
        chat(messages=[{"role": "user", "content": 5}]),
        400,
        "invalid_request_error",
        "messages[0].content",
        None,
    ),
    ("missing messages", {"model": DEFAULT_MODEL}, 400, "invalid_request_error", "messages", None),
    ("missing model", {"messages": MSG}, 400, "invalid_request_error", "model", None),
    (
        "temperature as string",
        chat(temperature="hot"),
        400,
        "invalid_request_error",
        "temperature",
        None,
    ),
    ("stream not bool", chat(stream="yes please"), 400, "invalid_request_error", "stream", None),
    ("stop wrong type", chat(stop=5), 400, "invalid_request_error", "stop", None),
    (
        "top_logprobs without logprobs",
        chat(top_logprobs=3),
        400,
        "invalid_request_error",
        None,
        None,
    ),
    (
        "top_logprobs above 20",
        chat(logprobs=True, top_logprobs=21),
        400,
        "invalid_request_error",
        "top_logprobs",
        None,
    ),
    ("malformed JSON", b'{"model": "x", "messages": [', 400, "invalid_request_error", None, None),
    ("non-JSON body", b"hello there", 400, "invalid_request_error", None, None),
    ("JSON array body", b"[1, 2, 3]", 400, "invalid_request_error", None, None),
    ("empty body", b"", 400, "invalid_request_error", None, None),
    (
        "prompt longer than context",
        chat(messages=[{"role": "user", "content": "hello " * 9000}]),
        400,
        "invalid_request_error",
        "messages",
        "context_length_exceeded",
    ),
]


@pytest.mark.parametrize(
    ("name", "body", "status", "etype", "param", "code"), CASES, ids=[c[0] for c in CASES]
)
def test_invalid_input_table(
    default_server: LiveServer,
    name: str,
    body: Any,
    status: int,
    etype: str,
    param: str | None,
    code: str | None,
) -> None:
    url = default_server.v1 + "/chat/completions"
    if isinstance(body, bytes):
        response = httpx.post(
            url, content=body, headers={"content-type": "application/json"}, timeout=60
        )
    else:
        response = httpx.post(url, json=body, timeout=60)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == etype
    assert error["message"]
    if param is not None:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code
    assert response.headers.get("x-tera-request-id")


def test_max_tokens_above_the_models_maximum_is_a_ceiling(default_server: LiveServer) -> None:
    """Claude Code sends 32000 for a model it does not know: clamped, not refused."""
    response = httpx.post(
        default_server.v1 + "/chat/completions", json=chat(max_tokens=32000), timeout=120
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["finish_reason"] in ("stop", "length")


def test_server_keeps_serving_during_bad_requests(default_server: LiveServer) -> None:
    """A long stream runs while every bad input of the table is thrown at the server."""
    result: dict[str, Any] = {}

    def long_stream() -> None:
        response = httpx.post(
            default_server.v1 + "/chat/completions",
            json={**chat(max_tokens=60, ignore_eos=True), "stream": True},
            timeout=120,
        )
        result["status"] = response.status_code
        result["done"] = response.text.rstrip().endswith("data: [DONE]")
        result["length"] = '"finish_reason":"length"' in response.text

    worker = threading.Thread(target=long_stream)
    worker.start()
    for _, body, status, *_ in CASES:
        kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
        assert (
            httpx.post(default_server.v1 + "/chat/completions", timeout=60, **kwargs).status_code
            == status
        )
    worker.join(120)
    assert result == {"status": 200, "done": True, "length": True}


def test_unknown_route_and_method_are_contract_shaped(default_server: LiveServer) -> None:
    missing = httpx.get(default_server.v1 + "/nope")
    assert missing.status_code == 404 and missing.json()["error"]["type"]
    wrong_method = httpx.get(default_server.v1 + "/chat/completions")
    assert (
        wrong_method.status_code == 405
        and wrong_method.json()["error"]["type"] == "invalid_request_error"
    )


def test_completions_validation(default_server: LiveServer) -> None:
    url = default_server.v1 + "/completions"
    bad = httpx.post(url, json={"model": DEFAULT_MODEL, "prompt": [], "max_tokens": 2})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "prompt"
    unknown = httpx.post(url, json={"model": "nope", "prompt": "x"})
    assert unknown.status_code == 404
