"""The one list of model families, and the vLLM-style parser names a config may set
(`reasoning_parser`, `tool_call_parser`), read from the families themselves.

A model is of the first family in `FAMILIES` that detects it (so the more specific come
first; `PLAIN` takes any model). Configured names win over detected ones, and the pair must
be one family's. Adding a family is one module declaring its profile(s) and one line here.
"""

from __future__ import annotations

from typing import Any

from tera_serve.errors import ConfigError
from tera_serve.families import deepseek_v3, harmony_family, qwen
from tera_serve.families.base import FamilyProfile
from tera_serve.families.template_family import PLAIN

FAMILIES: tuple[FamilyProfile, ...] = (
    *harmony_family.FAMILIES,
    *deepseek_v3.FAMILIES,
    *qwen.FAMILIES,
    PLAIN,
)
DISABLED = "none"
"""A configured name that turns the parser off."""


def _none_if_disabled(value: str | None) -> str | None:
    return None if value in (None, DISABLED) else value


def parser_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The reasoning-parser and tool-call-parser names a config may give."""
    reasoning = {f.reasoning_parser for f in FAMILIES} - {None}
    tools = {f.tool_call_parser for f in FAMILIES} - {None}
    return (*sorted(n for n in reasoning if n), DISABLED), (
        *sorted(n for n in tools if n),
        DISABLED,
    )


def _by_pair(reasoning: str | None, tools: str | None) -> FamilyProfile | None:
    for family in FAMILIES:
        if (family.reasoning_parser, family.tool_call_parser) == (reasoning, tools):
            return family
    return None


def _valid_pairs() -> str:
    return ", ".join(
        f"{f.reasoning_parser or DISABLED}+{f.tool_call_parser or DISABLED}" for f in FAMILIES
    )


def _check_names(reasoning_parser: str | None, tool_call_parser: str | None) -> None:
    reasoning_names, tool_names = parser_names()
    for key, value, names in (
        ("reasoning_parser", reasoning_parser, reasoning_names),
        ("tool_call_parser", tool_call_parser, tool_names),
    ):
        if value is not None and value not in names:
            raise ConfigError(f"{key} must be one of {list(names)}, not {value!r}")


def check_parser_pair(reasoning_parser: str | None, tool_call_parser: str | None) -> None:
    """Config-time check: each name is one a family declares, and when both are set they
    belong to one family (an unset one is detected at load, where `resolve_family` checks
    the pair)."""
    _check_names(reasoning_parser, tool_call_parser)
    if reasoning_parser is None or tool_call_parser is None:
        return
    pair = (_none_if_disabled(reasoning_parser), _none_if_disabled(tool_call_parser))
    if _by_pair(*pair) is None:
        raise ConfigError(
            f"reasoning_parser {reasoning_parser!r} and tool_call_parser {tool_call_parser!r} "
            f"do not belong to one model family; valid pairs: {_valid_pairs()}"
        )


def detect_family(hf_config: Any, chat_template: str | None) -> FamilyProfile:
    model_type = str(getattr(hf_config, "model_type", "") or "")
    for family in FAMILIES:
        if family.detects(model_type, chat_template or ""):
            return family
    return PLAIN


def resolve_family(
    hf_config: Any,
    chat_template: str | None,
    *,
    reasoning_parser: str | None = None,
    tool_call_parser: str | None = None,
) -> FamilyProfile:
    """Configured parser names win; otherwise they are detected from the model."""
    _check_names(reasoning_parser, tool_call_parser)
    detected = detect_family(hf_config, chat_template)
    reasoning = _none_if_disabled(
        reasoning_parser if reasoning_parser is not None else detected.reasoning_parser
    )
    tools = _none_if_disabled(
        tool_call_parser if tool_call_parser is not None else detected.tool_call_parser
    )
    family = _by_pair(reasoning, tools)
    if family is None:
        raise ConfigError(
            f"reasoning_parser {reasoning!r} with tool_call_parser {tools!r} is not a model "
            f"family tera-serve knows; valid pairs: {_valid_pairs()}"
        )
    return family
