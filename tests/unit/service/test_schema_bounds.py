"""Schema bounds (tera_serve/service/schema_bounds.py): one schema's size, values and depth
are measured before it is validated, and a bad one is a 400 naming its param."""

from __future__ import annotations

from typing import Any

import pytest

from tera_serve.errors import InvalidRequestError
from tera_serve.service.schema_bounds import (
    MAX_SCHEMA_BYTES,
    MAX_SCHEMA_DEPTH,
    MAX_SCHEMA_NODES,
    MAX_TOTAL_SCHEMA_BYTES,
    check_combined_schema,
    check_json_schema,
    check_schema_size,
    count_nodes,
    json_depth_exceeds,
)


def nested(depth: int) -> dict[str, Any]:
    """An object schema `depth` levels deep."""
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(depth - 1):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


def test_node_count_stops_at_the_limit() -> None:
    assert count_nodes({"anyOf": [{}] * 1_000_000}, 10) == 11
    assert count_nodes({"a": [1, 2]}, 100) == 4


def test_depth_counts_objects_and_arrays_not_scalars() -> None:
    assert not json_depth_exceeds({"a": [1, "x", None]}, 2)
    assert json_depth_exceeds({"a": [[1]]}, 2)
    assert not json_depth_exceeds("scalar", 0)
    deep: Any = 1
    for _ in range(100_000):  # far past the recursion limit: the walk is iterative
        deep = [deep]
    assert json_depth_exceeds(deep, 64)


def test_a_schema_within_every_bound_passes_and_reports_its_values() -> None:
    assert check_schema_size({"type": "object", "properties": {"a": {}}}, "p") == 4
    check_json_schema(nested(MAX_SCHEMA_DEPTH // 3), "p")


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"description": "x" * MAX_SCHEMA_BYTES}, "bytes"),
        ({"enum": list(range(MAX_SCHEMA_NODES))}, "values"),
        (nested(MAX_SCHEMA_DEPTH + 1), "deeper"),
        ({"const": 2**70}, "cannot be used"),  # past 64 bits: orjson and grammars refuse it
    ],
)
def test_each_size_bound_is_a_400_naming_the_param(schema: Any, message: str) -> None:
    for check in (check_schema_size, check_json_schema):
        with pytest.raises(InvalidRequestError, match=message) as refused:
            check(schema, "tools[2].function.parameters")
        assert refused.value.param == "tools[2].function.parameters"


@pytest.mark.parametrize("schema", [[{"type": "object"}], "object", None])
def test_a_schema_must_be_an_object(schema: Any) -> None:
    with pytest.raises(InvalidRequestError, match="JSON object") as refused:
        check_json_schema(schema, "response_format")
    assert refused.value.param == "response_format"


def test_an_invalid_json_schema_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidRequestError, match="not a valid JSON Schema"):
        check_json_schema({"type": "object", "properties": {"x": {"enum": 5}}}, "p")


def test_the_combined_schema_has_its_own_byte_bound() -> None:
    check_combined_schema({"anyOf": [{"description": "x" * MAX_TOTAL_SCHEMA_BYTES}]})
    with pytest.raises(InvalidRequestError, match="combined") as refused:
        check_combined_schema({"description": "x" * (MAX_TOTAL_SCHEMA_BYTES + 5000)})
    assert refused.value.param == "tools"
