"""Messages fields that coding agents send (Claude Code 2.1.332 on the wire): system and
developer messages anywhere, the billing-header block, `context_management`, `thinking`
with `display`, `output_config.effort`, `metadata`."""

from __future__ import annotations

from typing import Any

import pytest

from tera_serve.adapters.messages import messages_conversation, thinking_omitted
from tera_serve.core.conversation import Conversation
from tera_serve.errors import InvalidRequestError
from tera_serve.http.validation import validate_body
from tera_serve.protocol.messages import MessagesCountRequest, MessagesRequest

BILLING = "x-anthropic-billing-header: cc_version=2.1.332.1c9; cc_entrypoint=sdk-cli;"


def _convert(**fields: Any) -> Conversation:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    return messages_conversation(validate_body(MessagesRequest, {**body, **fields}))


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}


def test_system_and_developer_messages_stay_in_place_and_in_order() -> None:
    conversation = _convert(
        system=[_text("You are a Claude agent.")],
        messages=[
            {"role": "user", "content": [_text("say hello")]},
            {"role": "system", "content": [_text("# Environment"), _text(" linux")]},
            {"role": "assistant", "content": "Hello."},
            {"role": "developer", "content": "Be brief."},
            {"role": "system", "content": [_text("")]},  # nothing to say: left out
            {"role": "user", "content": "again"},
        ],
    )
    assert [(m.role, m.text()) for m in conversation.messages] == [
        ("system", "You are a Claude agent."),
        ("user", "say hello"),
        ("system", "# Environment linux"),
        ("assistant", "Hello."),
        ("developer", "Be brief."),
        ("user", "again"),
    ]


def test_count_tokens_body_takes_them_too() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}],
    }
    conversation = messages_conversation(validate_body(MessagesCountRequest, body))
    assert [m.role for m in conversation.messages] == ["user", "system"]


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        {"type": "tool_result", "tool_use_id": "t1", "content": "x"},
    ],
)
def test_a_system_message_holds_text_only(block: dict[str, Any]) -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": [_text("a"), block]},
    ]
    with pytest.raises(InvalidRequestError) as caught:
        _convert(messages=messages)
    assert caught.value.param == "messages[1].content[1]"


def test_the_billing_header_block_does_not_reach_the_model() -> None:
    conversation = _convert(
        system=[
            {"type": "text", "text": BILLING},
            _text("You are a Claude agent."),
            _text("\nMore."),
        ]
    )
    assert conversation.messages[0].text() == "You are a Claude agent.\nMore."
    only_header = _convert(system=[{"type": "text", "text": BILLING}])
    assert [m.role for m in only_header.messages] == ["user"]
    # A string system prompt is the client's own text, whatever it starts with.
    assert _convert(system=BILLING).messages[0].text() == BILLING


def _thinking_turn(thought: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": thought, "signature": "s"},
            {"type": "tool_use", "id": f"t_{thought}", "name": "get", "input": {}},
        ],
    }


def _result(thought: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t_{thought}"}]}


# Three assistant turns; the second is a tool loop of two messages (one turn).
HISTORY = [
    {"role": "user", "content": "q1"},
    _thinking_turn("a"),
    _result("a"),
    {"role": "user", "content": "q2"},
    _thinking_turn("b1"),
    _result("b1"),
    _thinking_turn("b2"),
    _result("b2"),
    {"role": "user", "content": "q3"},
    {"role": "assistant", "content": "no thinking here"},
    {"role": "user", "content": "q4"},
]


@pytest.mark.parametrize(
    ("keep", "kept"),
    [
        ("all", ["a", "b1", "b2"]),
        ({"type": "thinking_turns", "value": 1}, ["b1", "b2"]),
        ({"type": "thinking_turns", "value": 2}, ["a", "b1", "b2"]),
        ({"type": "thinking_turns", "value": 0}, []),
        (None, ["b1", "b2"]),  # Anthropic's default keep: one turn
    ],
)
def test_clear_thinking_keeps_the_latest_thinking_turns(keep: Any, kept: list[str]) -> None:
    edit: dict[str, Any] = {"type": "clear_thinking_20251015"}
    if keep is not None:
        edit["keep"] = keep
    conversation = _convert(messages=HISTORY, context_management={"edits": [edit]})
    reasoning = [m.reasoning for m in conversation.messages if m.role == "assistant"]
    assert [r for r in reasoning if r] == kept
    assert len(reasoning) == 4  # the assistant messages themselves all stay


def test_without_clear_thinking_every_thinking_block_is_replayed() -> None:
    for management in (None, {"edits": [{"type": "clear_tool_uses_20250919"}]}):
        conversation = _convert(messages=HISTORY, context_management=management)
        reasoning = [m.reasoning for m in conversation.messages if m.reasoning]
        assert reasoning == ["a", "b1", "b2"]


def test_clear_thinking_keep_of_another_kind_is_refused() -> None:
    edits = [
        {"type": "clear_tool_uses_20250919", "keep": {"type": "tool_uses", "value": 3}},
        {"type": "clear_thinking_20251015", "keep": {"type": "tool_uses", "value": 3}},
    ]
    with pytest.raises(InvalidRequestError) as caught:
        _convert(messages=HISTORY, context_management={"edits": edits})
    assert caught.value.param == "context_management.edits[1].keep"


@pytest.mark.parametrize(
    ("thinking", "omitted", "effort"),
    [
        ({"type": "adaptive", "display": "omitted"}, True, "high"),
        ({"type": "adaptive"}, False, "high"),
        ({"type": "enabled", "budget_tokens": 64, "display": "omitted"}, True, "high"),
        ({"type": "enabled", "budget_tokens": 64, "display": "summarized"}, False, "high"),
        ({"type": "disabled"}, False, "none"),
    ],
)
def test_thinking_display_and_effort(thinking: dict[str, Any], omitted: bool, effort: str) -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": thinking,
        "output_config": {"effort": "max"},
        "metadata": {"user_id": '{"device_id":"d","session_id":"s"}'},
    }
    request = validate_body(MessagesRequest, body)
    assert thinking_omitted(request) is omitted
    assert messages_conversation(request).reasoning_effort == effort


@pytest.mark.parametrize(("effort", "expected"), [("low", "low"), ("medium", "medium")])
def test_output_config_effort_is_the_reasoning_effort(effort: str, expected: str) -> None:
    conversation = _convert(thinking={"type": "adaptive"}, output_config={"effort": effort})
    assert conversation.reasoning_effort == expected
