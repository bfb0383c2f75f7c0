"""Conversation bodies as large as the server takes (issue 24, finding 3): each just under
the body-size limit, holding as many turns or parts as the JSON value bound lets through.

Before, pydantic validated and the adapter translated all of them (on the event loop)
before the message count refused them; /health waited behind. Shaped like
tests/support/hostile.py's attacks (each returns an Outcome), for
tests/e2e/test_hostile_bodies_e2e.py to assert and benchmarks/hostile.py to report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import httpx

from tera_serve.config import ServerConfig
from tera_serve.service.body_bounds import MAX_BODY_VALUES, json_text_shape
from tests.support.hostile import MODEL, Outcome, Target, _parallel, _timed

BODY_LIMIT: int = next(f.default for f in fields(ServerConfig) if f.name == "max_body_bytes")
"""The server's body-size limit (the hostile server keeps the default)."""
PARALLEL = 4


def most_items(head: bytes, item: Callable[[str], bytes], tail: bytes) -> int:
    """How many items stay under the JSON value bound (the check before parsing)."""
    commas_per_item = json_text_shape(item(""))[0] + 1
    return (MAX_BODY_VALUES - 1 - json_text_shape(head + tail)[0]) // commas_per_item


def largest_body(
    head: bytes, item: Callable[[str], bytes], tail: bytes, count: int | None = None
) -> tuple[bytes, int]:
    """`head`, then `count` items joined by commas, then `tail`; by default as many items
    as stay under the JSON value bound (most_items). Each item is padded to
    bring the body to just under BODY_LIMIT. Returns the body and its item count."""
    plain = item("")
    count = most_items(head, item, tail) if count is None else count
    room = BODY_LIMIT - len(head) - len(tail) - count * (len(plain) + 1)
    pad = "p" * (room // count)
    last = item(pad + "p" * (room % count))  # the rounding's bytes
    body = head + b",".join([*[item(pad)] * (count - 1), last]) + tail
    return body, count


def _error_of(response: httpx.Response) -> tuple[Any, Any, Any]:
    """(the body's top-level `type`, its error's `type`, its message): Anthropic's shape
    is ("error", "invalid_request_error", ...), OpenAI's (None, "invalid_request_error", ...)."""
    try:
        body = response.json()
    except ValueError:
        return None, None, response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None, None
    return body.get("type"), error.get("type"), error.get("message")


def _flood(target: Target, path: str, body: bytes, items: int) -> Outcome:
    outcome = Outcome([])
    errors = []
    for response in _parallel(PARALLEL, lambda: target.post(path, body)):
        outcome.add(response)
        errors.append(_error_of(response))
    outcome.notes.update(
        body_bytes=len(body),
        items=items,
        error_shapes=sorted({(top, kind) for top, kind, _ in errors}, key=str),
        messages=sorted({str(message) for _, _, message in errors}),
    )
    return outcome


AT_THE_LIMIT = 16_000
"""Parts of an `*_at_the_limit` body: under the count (8 per allowed message), so pydantic
and the translation run (in the CPU pool), then the message or character count refuses."""
_MODEL = b'{"model":"' + MODEL.encode() + b'",'
_ONE_TURN = b'"max_tokens":4,"messages":[{"role":"user","content":['


@dataclass(frozen=True)
class _Shape:
    """Where a flood goes, its body around the repeated item, and what the items are."""

    path: str
    head: bytes
    item: Callable[[str], bytes]
    tail: bytes
    what: str


def _string(before: bytes) -> Callable[[str], bytes]:
    """An item that is `before`, then the pad as a JSON string, then `"}`."""
    return lambda pad: before + pad.encode() + b'"}'


_TOOL_RESULTS = _Shape(
    "/v1/messages",
    _MODEL + _ONE_TURN,
    _string(b'{"type":"tool_result","tool_use_id":"'),
    b"]}]}",
    "tool_result blocks in one user turn",
)
_USER_TURN = _string(b'{"role":"user","content":"')
_INPUT_ITEMS = _Shape(
    "/v1/responses", _MODEL + b'"max_output_tokens":4,"input":[', _USER_TURN, b"]}", "input items"
)
_TEXT_PARTS = _Shape(
    "/v1/chat/completions",
    _MODEL + _ONE_TURN,
    _string(b'{"type":"text","text":"'),
    b"]}]}",
    "text parts in one message",
)
_CHAT_MESSAGES = _Shape(
    "/v1/chat/completions", _MODEL + b'"max_tokens":4,"messages":[', _USER_TURN, b"]}", "messages"
)


def _attack(name: str, shape: _Shape, count: int | None) -> Callable[[Target], Outcome]:
    def run(target: Target) -> Outcome:
        body, items = largest_body(shape.head, shape.item, shape.tail, count)
        return _flood(target, shape.path, body, items)

    items = most_items(shape.head, shape.item, shape.tail) if count is None else count
    run.__name__ = run.__qualname__ = name
    run.__doc__ = f"{PARALLEL} parallel {shape.path} bodies of 8 MiB, {items:,} {shape.what}."
    return _timed(run)


ATTACKS: tuple[Callable[[Target], Outcome], ...] = tuple(
    _attack(*spec)
    for spec in (
        ("messages_tool_results", _TOOL_RESULTS, None),
        ("messages_at_the_limit", _TOOL_RESULTS, AT_THE_LIMIT),
        ("responses_input_items", _INPUT_ITEMS, None),
        ("responses_at_the_limit", _INPUT_ITEMS, AT_THE_LIMIT),
        ("chat_content_parts", _TEXT_PARTS, None),
        ("chat_at_the_limit", _TEXT_PARTS, AT_THE_LIMIT),
        ("chat_messages", _CHAT_MESSAGES, None),
    )
)
BY_NAME = {attack.__name__: attack for attack in ATTACKS}
