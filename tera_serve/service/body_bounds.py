"""Bounds on a request body as JSON, measured before it is parsed and before pydantic.

Parsing 1.5 M values, or validating a list of 1.5 M items, holds the GIL for a second,
pool or not (DESIGN rule 9). So the bytes are measured first (values and nesting, at C
speed), then the parsed body's long lists and the parts inside its turns are counted,
each count stopping just past its limit. Every refusal is a 400 naming the `param`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tera_serve.config import ServerConfig
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.tokenize import MAX_TOKEN_IDS

MAX_BODY_VALUES = 262144
"""JSON values in one request body: past every legitimate body (131,072 token ids, 2,048
messages, 16,384 schema values), far below what stalls a parser."""
PARTS_PER_MESSAGE = 8
"""Items one request's turns may hold, per message it may have (--max-messages): 16,384
turns, content parts and tool calls by default, past any real conversation and what
pydantic validates in a tenth of a second (it holds the GIL for as long)."""
TURN_LISTS = ("messages", "input")
"""Where a body keeps its turns: chat's and Messages' `messages`, Responses' `input` items."""
PART_LISTS = ("content", "tool_calls", "output", "summary")
"""Where a turn keeps its parts: content parts and blocks, chat's tool calls, a
function_call_output's `output`, a reasoning item's `summary`. A part's own `content` (the
blocks of an Anthropic tool_result) is counted too."""


_QUOTE, _COMMA = ord('"'), ord(",")
_OPEN_SQUARE, _OPEN_CURLY, _CLOSE_SQUARE, _CLOSE_CURLY = (ord(c) for c in "[{]}")


def json_text_shape(raw: bytes) -> tuple[int, int]:
    """(commas, deepest nesting) of JSON text, outside its strings, in a few vectorized
    passes over the bytes (no Python work per value, so 1.5 M values cost milliseconds):
    escaped backslashes and quotes are removed, then a running parity of quotes marks what
    is inside a string."""
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    codes = np.frombuffer(text, dtype=np.uint8)
    if codes.size == 0:
        return 0, 0
    inside = np.bitwise_xor.accumulate((codes == _QUOTE).astype(np.uint8)).astype(bool)
    outside = ~inside
    commas = int(np.count_nonzero((codes == _COMMA) & outside))
    steps = (((codes == _OPEN_SQUARE) | (codes == _OPEN_CURLY)) & outside).astype(np.int8)
    steps -= (((codes == _CLOSE_SQUARE) | (codes == _CLOSE_CURLY)) & outside).astype(np.int8)
    depth = int(np.cumsum(steps, dtype=np.int32).max())
    return commas, max(depth, 0)


def json_text_depth_exceeds(raw: bytes, limit: int) -> bool:
    """Whether JSON text nests deeper than `limit`, measured on the bytes (json_text_shape)."""
    return json_text_shape(raw)[1] > limit


def check_json_text(raw: bytes, max_depth: int) -> None:
    """Before parsing: at most MAX_BODY_VALUES values and `max_depth` levels. Parsing 1.5 M
    values (and freeing them) holds the GIL for a second; measuring the bytes does not."""
    commas, depth = json_text_shape(raw)
    if commas >= MAX_BODY_VALUES:
        raise InvalidRequestError(f"The request body has more than {MAX_BODY_VALUES} JSON values.")
    if depth > max_depth:
        raise InvalidRequestError(f"The request body is nested deeper than {max_depth} levels.")


def check_list_lengths(body: dict[str, Any], server: ServerConfig) -> None:
    """The long lists of a parsed body, before pydantic walks them (validation holds the
    GIL for as long as the list is long: 1.5 M prompts would stall every request for a
    second): prompts, token ids, messages, system blocks and tools are counted first, then
    the parts inside the turns (check_turn_parts)."""
    limits = {
        "messages": server.max_messages,
        "system": max_turn_parts(server),
        "tools": server.max_tools,
        "tokens": MAX_TOKEN_IDS,
        "prompt": MAX_TOKEN_IDS,
    }
    for name, limit in limits.items():
        value = body.get(name)
        if not isinstance(value, list):
            continue
        if name == "prompt" and value and not isinstance(value[0], int):
            limit = server.max_sequences_per_request  # a list of prompts
        if len(value) > limit:
            raise InvalidRequestError(
                f"`{name}` has {len(value)} items; the limit is {limit}.", param=name
            )
    check_turn_parts(body, server)


def max_turn_parts(server: ServerConfig) -> int:
    return PARTS_PER_MESSAGE * server.max_messages


def count_turn_parts(turns: list[Any], limit: int) -> int:
    """Turns, the parts in them and the parts in those (PART_LISTS); counting stops just
    past `limit`, so the cost is bounded whatever the body holds."""
    count = 0
    for turn in turns:
        count += 1
        if count > limit:
            return count
        if not isinstance(turn, dict):
            continue
        for key in PART_LISTS:
            parts = turn.get(key)
            if not isinstance(parts, list):
                continue
            count += len(parts)
            if count > limit:
                return count
            for part in parts:  # at most `limit` of them: they were counted above
                inner = part.get("content") if isinstance(part, dict) else None
                if isinstance(inner, list):
                    count += len(inner)
                    if count > limit:
                        return count
    return count


def check_turn_parts(body: dict[str, Any], server: ServerConfig) -> None:
    """One check for every conversation protocol, on the parsed body before pydantic and
    translation (whose work grows with the parts, not the turns: one Messages turn of
    50,000 tool_result blocks is 50,000 messages)."""
    limit = max_turn_parts(server)
    for name in TURN_LISTS:
        turns = body.get(name)
        if isinstance(turns, list) and count_turn_parts(turns, limit) > limit:
            raise InvalidRequestError(
                f"`{name}` holds more than {limit} turns, content parts and tool calls "
                f"together; the limit is {limit}.",
                param=name,
            )
