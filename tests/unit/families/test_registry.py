"""Family detection and the parser-name pairs a config may set."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tera_serve.errors import ConfigError
from tera_serve.families.registry import check_parser_pair, resolve_family

QWEN35_TEMPLATE = "<think> <tool_call> <function=x> <parameter=y>"
HERMES_TEMPLATE = "<think> <tool_call>"


@pytest.mark.parametrize(
    ("model_type", "template", "name", "reasoning", "tools", "field"),
    [
        ("gpt_oss", None, "gpt-oss", "openai_gptoss", "openai", "reasoning"),
        ("qwen3_5", QWEN35_TEMPLATE, "qwen3.5", "qwen3", "qwen3_coder", "reasoning_content"),
        ("qwen3", HERMES_TEMPLATE, "qwen3", "qwen3", "hermes", "reasoning_content"),
        ("llama", "{{ messages }}", "plain", None, None, None),
    ],
)
def test_detected_families(
    model_type: str,
    template: str | None,
    name: str,
    reasoning: str | None,
    tools: str | None,
    field: str | None,
) -> None:
    family = resolve_family(SimpleNamespace(model_type=model_type), template)
    assert (family.name, family.reasoning_parser, family.tool_call_parser) == (
        name,
        reasoning,
        tools,
    )
    assert family.reasoning_field == field


def test_configured_names_win_over_detection() -> None:
    family = resolve_family(
        SimpleNamespace(model_type="qwen3"), HERMES_TEMPLATE, reasoning_parser="none"
    )
    assert (family.reasoning_parser, family.tool_call_parser) == (None, "hermes")


@pytest.mark.parametrize(
    ("reasoning", "tools"),
    [("qwen3", "openai"), ("openai_gptoss", "hermes"), ("none", "openai")],
)
def test_nonsensical_pairs_are_config_errors(reasoning: str, tools: str) -> None:
    with pytest.raises(ConfigError, match="family"):
        check_parser_pair(reasoning, tools)
    with pytest.raises(ConfigError, match="family"):
        resolve_family(
            SimpleNamespace(model_type="qwen3"),
            None,
            reasoning_parser=reasoning,
            tool_call_parser=tools,
        )


def test_a_harmony_parser_on_a_jinja_model_is_refused_at_load() -> None:
    with pytest.raises(ConfigError):
        resolve_family(
            SimpleNamespace(model_type="qwen3"), HERMES_TEMPLATE, tool_call_parser="openai"
        )


def test_one_unset_name_is_checked_at_load_only() -> None:
    check_parser_pair("qwen3", None)


def test_every_family_names_parsers_vllm_registers() -> None:
    """The names a family declares are vLLM's own (the engine is given the reasoning one)."""
    from tera_serve.runtime_env import prepare_vllm_environment

    prepare_vllm_environment()
    from vllm.reasoning import ReasoningParserManager
    from vllm.tool_parsers import ToolParserManager

    from tera_serve.families.registry import FAMILIES

    reasoning = set(ReasoningParserManager.list_registered())
    tools = set(ToolParserManager.list_registered())
    for family in FAMILIES:
        assert family.reasoning_parser is None or family.reasoning_parser in reasoning, family
        assert family.tool_call_parser is None or family.tool_call_parser in tools, family


def test_unknown_names_are_refused_with_the_key_they_came_in() -> None:
    with pytest.raises(ConfigError, match="reasoning_parser must be one of"):
        check_parser_pair("bogus", None)
    with pytest.raises(ConfigError, match="tool_call_parser must be one of"):
        resolve_family(SimpleNamespace(model_type="qwen3"), None, tool_call_parser="bogus")
