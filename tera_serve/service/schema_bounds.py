"""Bounds and validity of one JSON schema (tool parameters, an output format, the
combined forced-tools schema): bytes, values and nesting, measured cheaply before any
validation or grammar compilation, then a valid JSON Schema. Every refusal is a 400
naming the schema's `param`.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson

from tera_serve.errors import InvalidRequestError

MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 32
MAX_SCHEMA_NODES = 4096
"""JSON values (objects, arrays, scalars) in one schema: what a grammar compiles."""
MAX_TOTAL_SCHEMA_BYTES = 256 * 1024
"""All tool schemas of one request together, and the combined forced-tools schema."""
MAX_TOTAL_SCHEMA_NODES = 16384


def json_depth_exceeds(value: object, limit: int) -> bool:
    """Iterative depth check (no recursion, so a deep body cannot blow the stack)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item)
    return False


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


def check_json_schema(schema: Any, param: str) -> None:
    """A JSON object within the bounds (check_schema_size), then a valid JSON Schema."""
    if not isinstance(schema, dict):
        raise InvalidRequestError("The JSON schema must be a JSON object.", param=param)
    check_schema_size(schema, param)
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidRequestError(
            f"The schema is not a valid JSON Schema: {exc.message}", param=param
        ) from exc
