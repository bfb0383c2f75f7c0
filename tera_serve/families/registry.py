"""The one place families are registered: detection from the model, and the vLLM-style
parser names a config may set (`reasoning_parser`, `tool_call_parser`), validated together.

Adding a family (say DeepSeek-R1 with hermes tools) is one module with a profile and one
entry in `_PAIRS` below.
"""

from __future__ import annotations

from typing import Any

from tera_serve.errors import ConfigError
from tera_serve.families.base import FamilyProfile
from tera_serve.families.harmony_family import HarmonyFamily
from tera_serve.families.template_family import TemplateFamily

# (reasoning parser, tool-call parser) → the family that reads that output. Other
# combinations (a Jinja-rendered Qwen prompt read by the harmony parser, ...) make no sense.
_PAIRS: dict[tuple[str | None, str | None], FamilyProfile] = {
    (None, None): TemplateFamily("plain", None, None),
    (None, "hermes"): TemplateFamily("hermes", None, "hermes"),
    (None, "qwen3_coder"): TemplateFamily("qwen3_coder", None, "qwen3_coder"),
    ("qwen3", None): TemplateFamily("qwen3", "qwen3", None),
    ("qwen3", "hermes"): TemplateFamily("qwen3", "qwen3", "hermes"),
    ("qwen3", "qwen3_coder"): TemplateFamily("qwen3.5", "qwen3", "qwen3_coder"),
    ("openai_gptoss", "openai"): HarmonyFamily(),
    ("openai_gptoss", None): HarmonyFamily(tool_call_parser=None),
}
_HARMONY_MODEL_TYPES = ("gpt_oss",)


def _none_if_disabled(value: str | None) -> str | None:
    return None if value in (None, "none") else value


def _detected(model_type: str, template: str) -> tuple[str | None, str | None]:
    if model_type in _HARMONY_MODEL_TYPES:
        return "openai_gptoss", "openai"
    reasoning = "qwen3" if "<think>" in template else None
    if "<function=" in template and "<parameter=" in template:
        return reasoning, "qwen3_coder"
    if "<tool_call>" in template:
        return reasoning, "hermes"
    return reasoning, None


def check_parser_pair(reasoning_parser: str | None, tool_call_parser: str | None) -> None:
    """Config-time check when both names are set (an unset one is detected at load, where
    `resolve_family` checks the pair)."""
    if reasoning_parser is None or tool_call_parser is None:
        return
    pair = (_none_if_disabled(reasoning_parser), _none_if_disabled(tool_call_parser))
    if pair not in _PAIRS:
        raise ConfigError(
            f"reasoning_parser {reasoning_parser!r} and tool_call_parser {tool_call_parser!r} "
            f"do not belong to one model family; valid pairs: {_valid_pairs()}"
        )


def _valid_pairs() -> str:
    return ", ".join(f"{r or 'none'}+{t or 'none'}" for r, t in _PAIRS)


def resolve_family(
    hf_config: Any,
    chat_template: str | None,
    *,
    reasoning_parser: str | None = None,
    tool_call_parser: str | None = None,
) -> FamilyProfile:
    """Configured parser names win; otherwise they are detected from the model."""
    model_type = str(getattr(hf_config, "model_type", "") or "")
    detected_reasoning, detected_tools = _detected(model_type, chat_template or "")
    reasoning = _none_if_disabled(
        reasoning_parser if reasoning_parser is not None else detected_reasoning
    )
    tools = _none_if_disabled(tool_call_parser if tool_call_parser is not None else detected_tools)
    family = _PAIRS.get((reasoning, tools))
    if family is None:
        raise ConfigError(
            f"reasoning_parser {reasoning!r} with tool_call_parser {tools!r} is not a model "
            f"family tera-serve knows; valid pairs: {_valid_pairs()}"
        )
    return family
