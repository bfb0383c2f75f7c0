"""Command-line flags generated from the config dataclasses (their docstrings are the help)."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import types
from typing import Any, get_args, get_origin, get_type_hints


def attribute_docs(cls: type) -> dict[str, str]:
    """The string literal under each dataclass field, as written in the class body."""
    tree = ast.parse(inspect.getsource(cls))
    docs: dict[str, str] = {}
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def _scalar_type(annotation: Any) -> type | None:
    if annotation in (int, float, str, bool):
        return annotation  # type: ignore[no-any-return]
    if (
        get_origin(annotation) in (types.UnionType,)
        or str(get_origin(annotation)) == "typing.Union"
    ):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1 and members[0] in (int, float, str, bool):
            return members[0]  # type: ignore[no-any-return]
    return None


def add_dataclass_flags(
    parser: argparse.ArgumentParser | Any,
    cls: type,
    *,
    skip: frozenset[str] = frozenset(),
    prefix: str = "",
) -> list[str]:
    """Add `--field-name` for each scalar field; defaults stay None so unset is visible."""
    hints = get_type_hints(cls)
    docs = attribute_docs(cls)
    added: list[str] = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind = _scalar_type(hints[f.name])
        if kind is None:
            continue
        flag = "--" + prefix + f.name.replace("_", "-")
        if flag in parser._option_string_actions:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = docs.get(f.name, "")
        if default not in (None, dataclasses.MISSING):
            help_text += f" (default: {default})"
        if kind is bool:
            parser.add_argument(
                flag,
                dest=prefix + f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(flag, dest=prefix + f.name, type=kind, default=None, help=help_text)
        added.append(f.name)
    return added
