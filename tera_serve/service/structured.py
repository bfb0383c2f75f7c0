"""response_format (and forced tool choice) → a guided-decoding constraint for the engine.

Every schema problem is found before generation: not JSON Schema, too large or too deep
(schema_bounds.py), or something the server's grammar backend cannot compile (asked of the
engine itself, with a time bound). The compiled grammars are cached by the engine's backend.
"""

from __future__ import annotations

from typing import Any

from tera_serve.bounded_work import offload
from tera_serve.core.conversation import Conversation
from tera_serve.engine.base import EngineRequest, EngineRequestError, StructuredConstraint
from tera_serve.errors import InvalidRequestError
from tera_serve.service.registry import ServedModel
from tera_serve.service.schema_bounds import check_json_schema

# Keywords a backend accepts but silently does not enforce (outlines compiles numbers to an
# unbounded regex). Refusing them keeps the promise: an accepted schema is always honoured.
_UNENFORCED_KEYWORDS = {
    "outlines": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
}


def check_backend_enforces(schema: Any, backend: str, param: str) -> None:
    unenforced = keywords_used(schema, _UNENFORCED_KEYWORDS.get(backend, ()))
    if unenforced:
        raise InvalidRequestError(
            f"The {backend} grammar backend cannot enforce {', '.join(unenforced)}; "
            "remove the keyword or use a server running xgrammar or guidance.",
            param=param,
        )


def output_schema_param(conversation: Conversation) -> str:
    """Where the request's output schema sits: the format itself for json_schema and plain
    json_object, its `schema` for the json_object extension (llama.cpp's, instructor's)."""
    param = conversation.param("response_format")
    fmt = conversation.output_format
    with_schema = fmt is not None and fmt.kind == "json_object" and fmt.schema is not None
    return f"{param}.schema" if with_schema else param


def response_format_constraint(
    conversation: Conversation, backend: str
) -> StructuredConstraint | None:
    fmt = conversation.output_format
    if fmt is None or fmt.kind == "text":
        return None
    param = output_schema_param(conversation)
    if fmt.kind == "json_object" and fmt.schema is None:
        return StructuredConstraint(json_object=True)
    # json_object with a schema is enforced as json_schema is (DESIGN rule 11: never dropped).
    if fmt.schema is None:
        raise InvalidRequestError(f"`{param}` needs a JSON schema.", param=param)
    check_json_schema(fmt.schema, param)
    check_backend_enforces(fmt.schema, backend, param)
    return StructuredConstraint(json_schema=fmt.schema)


# Keywords each grammar backend is known to reject (vLLM's checks say only "unsupported").
_UNSUPPORTED_KEYWORDS = {
    "xgrammar": (
        "multipleOf",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "propertyNames",
        "format",
    ),
    "guidance": ("patternProperties",),
    "outlines": ("patternProperties", "propertyNames", "uniqueItems", "contains"),
}


def keywords_used(schema: Any, candidates: tuple[str, ...]) -> list[str]:
    found: set[str] = set()
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.update(k for k in item if k in candidates)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(found)


async def check_engine_accepts(
    served: ServedModel, request: EngineRequest, param: str, backend: str
) -> None:
    """Ask the engine whether its grammar backend takes the constraint (in the CPU pool, on
    a schema already bounded in size: a busy pool is a 503)."""
    try:
        await offload(served.engine.validate, request, what="checking the schema's grammar")
    except EngineRequestError as exc:
        constraint = request.sampling.structured
        schema = constraint.json_schema if constraint else None
        suspects = keywords_used(schema, _UNSUPPORTED_KEYWORDS.get(backend, ()))
        hint = f" (keywords it may not support: {', '.join(suspects)})" if suspects else ""
        raise InvalidRequestError(
            f"The {backend} grammar backend cannot use this schema{hint}: {exc}", param=param
        ) from exc
