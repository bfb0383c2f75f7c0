"""Model families: which prompt renderer, output parser and reasoning field a model uses.

Detected from the model (HF config `model_type`, chat template) and overridable with the
vLLM-style parser names `--reasoning-parser` / `--tool-call-parser`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REASONING_FIELD_BY_PARSER = {"qwen3": "reasoning_content", "openai_gptoss": "reasoning"}


@dataclass(frozen=True)
class ModelFamily:
    reasoning_parser: str | None
    """`qwen3`, `openai_gptoss`, or None for a model without reasoning."""
    tool_call_parser: str | None
    """`hermes`, `qwen3_coder`, `openai`, or None for a model without tool calling."""

    @property
    def is_harmony(self) -> bool:
        return self.reasoning_parser == "openai_gptoss"

    @property
    def reasoning_field(self) -> str | None:
        if self.reasoning_parser is None:
            return None
        return REASONING_FIELD_BY_PARSER[self.reasoning_parser]


def _none_if_disabled(value: str | None) -> str | None:
    return None if value in (None, "none") else value


def detect_family(
    hf_config: Any,
    chat_template: str | None,
    *,
    reasoning_parser: str | None = None,
    tool_call_parser: str | None = None,
) -> ModelFamily:
    """Configured parser names win; otherwise infer them from the model."""
    model_type = str(getattr(hf_config, "model_type", "") or "")
    template = chat_template or ""
    if model_type == "gpt_oss":
        detected_reasoning: str | None = "openai_gptoss"
        detected_tools: str | None = "openai"
    else:
        detected_reasoning = "qwen3" if "<think>" in template else None
        if "<function=" in template and "<parameter=" in template:
            detected_tools = "qwen3_coder"
        elif "<tool_call>" in template:
            detected_tools = "hermes"
        else:
            detected_tools = None
    return ModelFamily(
        reasoning_parser=_none_if_disabled(
            reasoning_parser if reasoning_parser is not None else detected_reasoning
        ),
        tool_call_parser=_none_if_disabled(
            tool_call_parser if tool_call_parser is not None else detected_tools
        ),
    )
