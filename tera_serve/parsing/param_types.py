"""Typed values for XML-style tool parameters (qwen3_coder), from the tool's JSON schema.

The model writes every parameter value as bare text; the schema says what it means.
Anything that does not convert stays a string: the client sees what the model wrote.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

_STRING_TYPES = frozenset({"string", "str", "text", "varchar", "char", "enum"})
_INTEGER_TYPES = frozenset({"integer", "int"})
_NUMBER_TYPES = frozenset({"number", "float", "double"})
_BOOLEAN_TYPES = frozenset({"boolean", "bool"})
_CONTAINER_TYPES = {"object": dict, "dict": dict, "array": list, "list": list}


def parameter_type(tool_schema: Mapping[str, Any] | None, parameter: str) -> str | None:
    """The declared type of `parameter`, lower-cased; None when the schema does not say.

    Total: whatever the (client's) schema holds, this returns, never raises mid-stream."""
    if not isinstance(tool_schema, Mapping):
        return None
    properties = tool_schema.get("properties")
    if not isinstance(properties, Mapping):
        return None
    spec = properties.get(parameter)
    if not isinstance(spec, Mapping):
        return None
    declared = spec.get("type")
    if isinstance(declared, list):
        # ["string", "null"] and the like: the first non-null type decides.
        declared = next((t for t in declared if isinstance(t, str) and t != "null"), "null")
    if isinstance(declared, str):
        return declared.lower()
    enum = spec.get("enum")
    if isinstance(enum, list) and all(isinstance(v, str) for v in enum):
        return "string"
    return None


def is_string_type(type_name: str | None) -> bool:
    return type_name in _STRING_TYPES


def _json_or_text(text: str, fallback: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return fallback


def _number(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def convert_parameter(text: str, type_name: str | None) -> Any:
    """The JSON value for a parameter written as `text` whose schema type is `type_name`."""
    if is_string_type(type_name):
        return text
    stripped = text.strip()
    if stripped.lower() == "null":
        return None
    if type_name in _INTEGER_TYPES:
        try:
            return int(stripped)
        except ValueError:
            value = _number(stripped)
            if isinstance(value, float) and value.is_integer():
                return int(value)
            return value
    if type_name in _NUMBER_TYPES:
        return _number(stripped)
    if type_name in _BOOLEAN_TYPES:
        lowered = stripped.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return text
    container = _CONTAINER_TYPES.get(type_name or "")
    if container is not None:
        value = _json_or_text(stripped, text)
        return value if isinstance(value, container) else text
    # null, or a type we do not know: JSON if it reads as JSON, else the text itself.
    return _json_or_text(stripped, text)
