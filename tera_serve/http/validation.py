"""Request bodies: bytes → JSON → pydantic model, every failure a 400 with `param`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from tera_serve.errors import InvalidRequestError
from tera_serve.service.body_bounds import check_json_text

ModelT = TypeVar("ModelT", bound=BaseModel)

# pydantic's error types for "wrong union member" repeat per member; we want the first real one.
_UNION_NOISE = ("function-after", "function-before", "function-plain", "function-wrap")


def param_from_location(loc: Sequence[Any]) -> str | None:
    """("messages", 0, "role") → "messages[0].role"; pydantic's union tags are dropped."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str):
            if part.startswith(_UNION_NOISE) or part in ("str", "list[...]", "int", "bool"):
                continue
            if "[" in part and part.endswith("]"):  # union branch labels like list[TextPart]
                continue
            out += f".{part}" if out else part
    return out or None


def parse_json_body(raw: bytes, max_depth: int) -> dict[str, Any]:
    if not raw.strip():
        raise InvalidRequestError("The request body is empty; send a JSON object.")
    # Values and depth, on the bytes at C speed, before anything is parsed.
    check_json_text(raw, max_depth)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    return body


def validate_body(model: type[ModelT], body: dict[str, Any]) -> ModelT:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = param_from_location(first.get("loc", ()))
        message = str(first.get("msg", "invalid value"))
        if param:
            message = f"Invalid value for `{param}`: {message}"
        raise InvalidRequestError(message, param=param) from None
