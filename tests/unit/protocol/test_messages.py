"""The Anthropic Messages bodies (tera_serve/protocol/messages.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tera_serve.protocol.messages import (
    ContextManagement,
    MessageParam,
    MessagesCountRequest,
    MessagesRequest,
    ThinkingAdaptive,
    ThinkingBlock,
    ThinkingEnabled,
    ToolResultBlock,
)

USER = {"role": "user", "content": "hi"}


def messages(**fields: Any) -> MessagesRequest:
    body = {"model": "m", "max_tokens": 8, "messages": [USER], **fields}
    return MessagesRequest.model_validate(body)


def refused_at(fields: dict[str, Any]) -> tuple[int | str, ...]:
    with pytest.raises(ValidationError) as failure:
        messages(**fields)
    return failure.value.errors()[0]["loc"]


def test_max_tokens_is_required_except_to_count_tokens() -> None:
    with pytest.raises(ValidationError) as failure:
        MessagesRequest.model_validate({"model": "m", "messages": [USER]})
    assert failure.value.errors()[0]["loc"] == ("max_tokens",)
    counted = MessagesCountRequest.model_validate({"model": "m", "messages": [USER]})
    assert counted.messages[0].content == "hi"


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"max_tokens": 0}, ("max_tokens",)),
        ({"messages": []}, ("messages",)),
        ({"stop_sequences": ["ok", ""]}, ("stop_sequences", 1)),
        ({"top_k": -1}, ("top_k",)),
        ({"temperature": 2.1}, ("temperature",)),
        ({"tool_choice": {"type": "force"}}, ("tool_choice", "type")),
        ({"tools": [{"name": "bad name"}]}, ("tools", 0, "name")),
        ({"output_config": {"effort": "extreme"}}, ("output_config", "effort")),
        ({"thinking": {"type": "enabled", "budget_tokens": 0}}, ("thinking", "enabled")),
        ({"thinking": {"type": "sometimes"}}, ("thinking",)),
        ({"messages": [{"role": "tool", "content": "x"}]}, ("messages", 0, "role")),
    ],
)
def test_bad_fields_are_refused_where_they_stand(
    fields: dict[str, Any], loc: tuple[int | str, ...]
) -> None:
    assert refused_at(fields)[: len(loc)] == loc


def test_content_blocks_are_told_apart_by_type() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}},
        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "ok"}]},
        {"type": "thinking", "thinking": "hmm"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    turn = MessageParam.model_validate({"role": "assistant", "content": blocks})
    assert not isinstance(turn.content, str)
    assert [block.type for block in turn.content] == [b["type"] for b in blocks]
    with pytest.raises(ValidationError):
        MessageParam.model_validate({"role": "user", "content": [{"type": "document"}]})


def test_block_defaults() -> None:
    turn = MessageParam.model_validate(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t"},
                {"type": "thinking", "thinking": "x"},
            ],
        }
    )
    assert not isinstance(turn.content, str)
    result, thinking = turn.content
    assert isinstance(result, ToolResultBlock) and isinstance(thinking, ThinkingBlock)
    assert (result.content, result.is_error) == ("", False)
    assert thinking.signature == ""


def test_system_and_developer_turns_stand_anywhere() -> None:
    request = messages(
        system=[{"type": "text", "text": "be brief"}],
        messages=[USER, {"role": "system", "content": "now French"}, {"role": "developer", "content": "x"}],
    )  # fmt: skip
    assert [m.role for m in request.messages] == ["user", "system", "developer"]


def test_thinking_shapes() -> None:
    enabled = messages(thinking={"type": "enabled", "budget_tokens": 1024, "display": "omitted"})
    assert isinstance(enabled.thinking, ThinkingEnabled) and enabled.thinking.display == "omitted"
    assert isinstance(messages(thinking={"type": "adaptive"}).thinking, ThinkingAdaptive)
    assert messages(thinking={"type": "disabled"}).thinking is not None


def test_the_output_schema_is_named_schema_on_the_wire() -> None:
    request = messages(
        output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}}
    )
    assert request.output_config is not None and request.output_config.format is not None
    assert request.output_config.format.schema_ == {"type": "object"}


def test_context_edits_keep_a_count_or_all_and_are_few() -> None:
    edits = [
        {"type": "clear_thinking_20251015", "keep": {"type": "thinking_turns", "value": 2}},
        {"type": "clear_thinking_20251015", "keep": "all"},
        {"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 9}},
    ]
    managed = ContextManagement.model_validate({"edits": edits})
    assert [e.keep for e in managed.edits][1:] == ["all", None]
    with pytest.raises(ValidationError):
        ContextManagement.model_validate({"edits": [edits[2]] * 17})
    with pytest.raises(ValidationError):
        ContextManagement.model_validate(
            {"edits": [{"type": "x", "keep": {"type": "t", "value": -1}}]}
        )


def test_unknown_fields_are_ignored_and_extensions_taken() -> None:
    request = messages(
        metadata={"user_id": "u"},
        service_tier="auto",
        ignore_eos=True,
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
    )
    assert request.ignore_eos and request.metadata is not None
    assert request.tools is not None and request.tools[0].type == "web_search_20250305"
    assert "service_tier" not in request.model_dump()
