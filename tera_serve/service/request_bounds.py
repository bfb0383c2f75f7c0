"""Bounds on the parts of a request whose cost grows with the input, checked before the work.

DESIGN rule 9: schema checks, JSON decoding of tool-call arguments, tokenization and
grammar compilation are each bounded before they start, by cheap measurements (bytes from
orjson's C encoder, node counts that stop counting at the limit, list lengths), so the
work that follows (in the CPU pool, bounded_work.py) always ends soon. Every refusal is a
400 naming the offending `param`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from tera_serve.config import ServerConfig
from tera_serve.core.conversation import Conversation, PromptBatch
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.tokenize import MAX_TOKEN_IDS
from tera_serve.service.limits import json_depth_exceeds
from tera_serve.service.structured import (
    MAX_SCHEMA_BYTES,
    MAX_SCHEMA_DEPTH,
    check_json_schema,
    output_schema_param,
)

MAX_SCHEMA_NODES = 4096
"""JSON values (objects, arrays, scalars) in one schema: what a grammar compiles."""
MAX_TOTAL_SCHEMA_BYTES = 256 * 1024
"""All tool schemas of one request together, and the combined forced-tools schema."""
MAX_TOTAL_SCHEMA_NODES = 16384
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


def count_nodes(value: object, limit: int) -> int:
    """JSON values in `value`, counting stops just past `limit` (so the cost is bounded)."""
    count = 0
    stack = [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def schema_bytes(schema: object, param: str) -> int:
    try:
        return len(orjson.dumps(schema))
    except TypeError as exc:  # an integer past 64 bits, say: no grammar takes it either
        raise InvalidRequestError(f"The JSON schema cannot be used: {exc}.", param=param) from exc


def check_schema_size(schema: object, param: str) -> int:
    """Bytes, nodes and depth of one schema (cheap, before any validation); returns nodes."""
    size = schema_bytes(schema, param)
    if size > MAX_SCHEMA_BYTES:
        raise InvalidRequestError(
            f"The JSON schema is {size} bytes; the limit is {MAX_SCHEMA_BYTES}.", param=param
        )
    nodes = count_nodes(schema, MAX_SCHEMA_NODES)
    if nodes > MAX_SCHEMA_NODES:
        raise InvalidRequestError(
            f"The JSON schema has more than {MAX_SCHEMA_NODES} values.", param=param
        )
    if json_depth_exceeds(schema, MAX_SCHEMA_DEPTH):
        raise InvalidRequestError(
            f"The JSON schema is nested deeper than {MAX_SCHEMA_DEPTH} levels.", param=param
        )
    return nodes


def check_combined_schema(schema: object, param: str = "tools") -> None:
    """The forced-tools schema (every tool's parameters in one anyOf) is bounded too."""
    size = schema_bytes(schema, param)
    limit = MAX_TOTAL_SCHEMA_BYTES + 4096
    if size > limit:
        raise InvalidRequestError(
            f"The tools' combined schema is {size} bytes; the limit is {limit}.", param=param
        )


def check_tool_schemas(conversation: Conversation) -> None:
    """Every tool's parameters: size bounds first, then a valid JSON Schema (so no parser
    meets a malformed schema after the stream has started)."""
    total_bytes = total_nodes = 0
    tools_param = conversation.param("tools")
    for index, tool in enumerate(conversation.tools):
        schema = tool.parameters
        if schema is None:
            continue
        param = conversation.tool_schema_param(index)
        total_bytes += schema_bytes(schema, param)
        if total_bytes > MAX_TOTAL_SCHEMA_BYTES:
            raise InvalidRequestError(
                f"The tools' schemas are more than {MAX_TOTAL_SCHEMA_BYTES} bytes together.",
                param=tools_param,
            )
        total_nodes += check_schema_size(schema, param)
        if total_nodes > MAX_TOTAL_SCHEMA_NODES:
            raise InvalidRequestError(
                f"The tools' schemas have more than {MAX_TOTAL_SCHEMA_NODES} values together.",
                param=tools_param,
            )
    for index, tool in enumerate(conversation.tools):
        if tool.parameters is not None:
            check_json_schema(dict(tool.parameters), conversation.tool_schema_param(index))
    fmt = conversation.output_format
    if fmt is not None and fmt.schema is not None:
        check_schema_size(fmt.schema, output_schema_param(conversation))


def check_tool_call_arguments(conversation: Conversation, max_depth: int) -> None:
    """Assistant tool-call arguments are decoded for the template: too deep is a 400 here,
    never a RecursionError there."""
    messages = conversation.param("messages")
    for i, message in enumerate(conversation.messages):
        for j, call in enumerate(message.tool_calls):
            param = f"{messages}[{i}].tool_calls[{j}].function.arguments"
            # Measured on the text: whatever the template's decoder makes of it, it never
            # meets more than max_depth levels (a RecursionError there would be a 500).
            if json_text_depth_exceeds(call.arguments.encode(errors="replace"), max_depth):
                raise InvalidRequestError(
                    f"The tool-call arguments are nested deeper than {max_depth} levels.",
                    param=param,
                )


def check_conversation_input(conversation: Conversation, server: ServerConfig) -> None:
    """Everything of a conversation that costs CPU in proportion to its size (run it in the
    CPU pool: the JSON Schema validation is bounded, not free)."""
    check_tool_call_arguments(conversation, server.max_json_depth)
    check_tool_schemas(conversation)


def batch_sequences(batch: PromptBatch) -> int:
    """Prompts × n: the engine sequences a completions request asks for."""
    return len(batch.prompts) * batch.n


def check_token_prompts(batch: PromptBatch) -> None:
    for prompt in batch.prompts:
        if not isinstance(prompt, str) and len(prompt) > MAX_TOKEN_IDS:
            raise InvalidRequestError(
                f"A token-id prompt may have at most {MAX_TOKEN_IDS} ids.", param="prompt"
            )
