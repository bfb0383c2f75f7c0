"""response_format (and forced tool choice) → a guided-decoding constraint for the engine."""

from __future__ import annotations

from typing import Any

from tera_serve.engine.base import StructuredConstraint
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.chat import ChatCompletionRequest
from tera_serve.service.registry import ServedModel

MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 32


def _check_schema(schema: Any, param: str) -> None:
    import jsonschema
    import orjson

    if not isinstance(schema, dict):
        raise InvalidRequestError("The JSON schema must be a JSON object.", param=param)
    size = len(orjson.dumps(schema))
    if size > MAX_SCHEMA_BYTES:
        raise InvalidRequestError(
            f"The JSON schema is {size} bytes; the limit is {MAX_SCHEMA_BYTES}.", param=param
        )
    from tera_serve.service.limits import json_depth_exceeds

    if json_depth_exceeds(schema, MAX_SCHEMA_DEPTH):
        raise InvalidRequestError(
            f"The JSON schema is nested deeper than {MAX_SCHEMA_DEPTH} levels.", param=param
        )
    try:
        validator = jsonschema.validators.validator_for(
            schema, default=jsonschema.Draft202012Validator
        )
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidRequestError(
            f"The schema is not a valid JSON Schema: {exc.message}", param=param
        ) from exc


def constraint_for_request(
    request: ChatCompletionRequest, served: ServedModel
) -> StructuredConstraint | None:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return StructuredConstraint(json_object=True)
    schema = fmt.json_schema.json_schema if fmt.json_schema else None
    if schema is None:
        raise InvalidRequestError(
            "`response_format.json_schema.schema` is required.", param="response_format"
        )
    _check_schema(schema, "response_format")
    return StructuredConstraint(json_schema=schema)
