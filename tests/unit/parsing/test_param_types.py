"""Schema-typed values of qwen3_coder parameters."""

from __future__ import annotations

from typing import Any

import pytest

from tera_serve.parsing.param_types import convert_parameter, parameter_type

SCHEMA = {
    "properties": {
        "s": {"type": "string"},
        "n": {"type": ["number", "null"]},
        "e": {"enum": ["a", "b"]},
        "x": {"description": "no type"},
    }
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("s", "string"), ("n", "number"), ("e", "string"), ("x", None), ("missing", None)],
)
def test_parameter_type(name: str, expected: str | None) -> None:
    assert parameter_type(SCHEMA, name) == expected


def test_parameter_type_without_schema() -> None:
    assert parameter_type(None, "a") is None
    assert parameter_type({"properties": []}, "a") is None


@pytest.mark.parametrize(
    ("text", "type_name", "value"),
    [
        (" 42 ", "string", " 42 "),
        ("42", "integer", 42),
        ("4.0", "integer", 4),
        ("4.5", "integer", 4.5),
        ("many", "integer", "many"),
        ("-1.25e2", "number", -125.0),
        ("7", "number", 7),
        ("inf", "number", "inf"),
        ("TRUE", "boolean", True),
        ("no", "boolean", "no"),
        ('{"a": [1]}', "object", {"a": [1]}),
        ("[1, 2]", "object", "[1, 2]"),
        ("[1, 2]", "array", [1, 2]),
        ("{not json", "array", "{not json"),
        ("null", "integer", None),
        ("null", "null", None),
        ('"quoted"', None, "quoted"),
        ("plain words", None, "plain words"),
        ("3", "mystery", 3),
    ],
)
def test_convert_parameter(text: str, type_name: str | None, value: Any) -> None:
    converted = convert_parameter(text, type_name)
    assert converted == value and type(converted) is type(value)


@pytest.mark.parametrize(
    "spec",
    [
        {"enum": 5},
        {"enum": None},
        {"enum": [1, "a"]},
        {"type": [5, None]},
        {"type": 5},
        {"type": {"a": 1}},
        5,
        None,
        [],
    ],
)
def test_type_lookup_is_total_on_any_schema(spec: object) -> None:
    schema = {"properties": {"x": spec}}
    assert parameter_type(schema, "x") in (None, "null", "string")
    assert parameter_type({"properties": 5}, "x") is None
