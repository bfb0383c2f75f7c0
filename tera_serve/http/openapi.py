"""/openapi.json for routes that read their own bodies.

The POST routes parse raw bytes (for 413, nesting depth and 400-not-422), so FastAPI cannot
see their request models. Each such route passes `openapi_extra=json_body(Model)`;
`publish_request_schemas` then moves the schemas into `components` (where their `$ref`s
point), documents the error shape on every operation, and drops FastAPI's 422, which this
server never sends.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from tera_serve.adapters.protocols import protocol_for_path

_REF = "#/components/schemas/{model}"


def error_schema() -> dict[str, Any]:
    """The contract's error body, as JSON Schema (a fresh dict: documents own their parts)."""

    def nullable_string() -> dict[str, Any]:
        return {"anyOf": [{"type": "string"}, {"type": "null"}]}

    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": nullable_string(),
                    "code": nullable_string(),
                },
            }
        },
    }


def anthropic_error_schema() -> dict[str, Any]:
    """Errors on the Anthropic Messages routes."""
    return {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    }


def _error_response(path: str) -> dict[str, Any]:
    model = protocol_for_path(path).error_schema
    return {
        "description": "An error, in the shape of the route's protocol",
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=model)}}},
    }


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` publishing `model` as a route's JSON request body."""
    schema = model.model_json_schema(ref_template=_REF)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def publish_request_schemas(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        components: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components["ErrorResponse"] = error_schema()
        components["AnthropicErrorResponse"] = anthropic_error_schema()
        for path, path_item in document.get("paths", {}).items():
            for operation in path_item.values():
                if not isinstance(operation, dict):
                    continue
                _hoist_body_schema(operation, components)
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses.setdefault("default", _error_response(path))
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _hoist_body_schema(operation: dict[str, Any], components: dict[str, Any]) -> None:
    media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = media.get("schema")
    if not isinstance(schema, dict) or "$ref" in schema or "title" not in schema:
        return
    components.update(schema.pop("$defs", {}))
    components[schema["title"]] = schema
    media["schema"] = {"$ref": _REF.format(model=schema["title"])}
