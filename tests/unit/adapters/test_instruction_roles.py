"""Wire → core keeps every system and developer message, in place and in order, for the
family to place (tera_serve/chat/system_messages.py): the shapes Codex CLI (Responses) and
Claude Code (Messages) send, seen on the wire."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tera_serve.adapters.messages import messages_conversation
from tera_serve.adapters.responses import responses_conversation
from tera_serve.chat.template import ChatTemplateRenderer
from tera_serve.config import ModelConfig
from tera_serve.core.conversation import Conversation
from tera_serve.families.registry import resolve_family
from tera_serve.http.validation import validate_body
from tera_serve.protocol.messages import MessagesRequest
from tera_serve.protocol.responses import ResponsesRequest
from tests.fixtures.qwen35 import qwen35_tokenizer

WIRE = Path(__file__).parents[2] / "fixtures" / "wire"
BASE = "You are a coding agent running in the Codex CLI."
SKILLS = "<skills_instructions>\n## Skills\n</skills_instructions>"
PERMISSIONS = "<permissions instructions>\nsandbox_mode is read-only\n</permissions instructions>"
ENVIRONMENT = "<environment_context>\n  <cwd>/tmp/cx-work</cwd>\n</environment_context>"
REMINDER = "<reminder>Run the tests before you answer.</reminder>"


def _input_text(*texts: str) -> list[dict[str, str]]:
    return [{"type": "input_text", "text": text} for text in texts]


# Codex CLI 0.169's first turn (no `instructions`: two developer items), then a tool turn
# with a developer item between the call's output and the next user item.
CODEX_INPUT: list[dict[str, Any]] = [
    {"type": "message", "role": "developer", "content": _input_text(BASE)},
    {"type": "message", "role": "developer", "content": _input_text(SKILLS, PERMISSIONS)},
    {"type": "message", "role": "user", "content": _input_text(ENVIRONMENT)},
    {"type": "message", "role": "user", "content": _input_text("say hello")},
    {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": '{"cmd": "ls"}'},
    {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
    {"type": "message", "role": "developer", "content": _input_text(REMINDER)},
    {"type": "message", "role": "user", "content": "and now?"},
]


def _qwen35_prompt(conversation: Conversation) -> str:
    tokenizer = qwen35_tokenizer()
    model = SimpleNamespace(
        config=ModelConfig(model="m"), renderer=ChatTemplateRenderer(tokenizer), tokenizer=tokenizer
    )
    family = resolve_family(SimpleNamespace(model_type="qwen3_5"), tokenizer.chat_template)
    return asyncio.run(family.render(conversation, model, open_reasoning=False)).text


def test_responses_keeps_codex_developer_items_in_place() -> None:
    request = validate_body(ResponsesRequest, {"model": "m", "input": CODEX_INPUT})
    conversation = responses_conversation(request)
    assert [(m.role, m.text()) for m in conversation.messages] == [
        ("developer", BASE),
        ("developer", SKILLS + PERMISSIONS),
        ("user", ENVIRONMENT),
        ("user", "say hello"),
        ("assistant", ""),
        ("tool", "a.txt"),
        ("developer", REMINDER),
        ("user", "and now?"),
    ]
    # Through to the prompt on the template that refuses a later system message.
    prompt = _qwen35_prompt(conversation)
    positions = [prompt.find(t) for t in (BASE, SKILLS, PERMISSIONS, REMINDER, ENVIRONMENT)]
    assert -1 not in positions and positions == sorted(positions)


def _captured(name: str) -> dict[str, Any]:
    body = json.loads((WIRE / name).read_text())["body"]
    return json.loads(body) if isinstance(body, str) else dict(body)


def test_codex_captured_first_turn_reaches_the_prompt() -> None:
    # Only the input: the captured tools are another rule's (namespaces, hosted tools).
    captured = _captured("codex-0.171.0-first-turn.json")
    body = {"model": "m", "input": captured["input"]}
    conversation = responses_conversation(validate_body(ResponsesRequest, body))
    sent = [
        ("".join(part["text"] for part in item["content"]), item["role"])
        for item in captured["input"]
    ]
    assert [(m.text(), m.role) for m in conversation.messages] == sent
    prompt = _qwen35_prompt(conversation)
    positions = [prompt.find(text.strip()) for text, _ in sent]
    assert -1 not in positions and positions == sorted(positions)


def test_claude_code_captured_first_turn_reaches_the_prompt() -> None:
    captured = _captured("claude-code-2.1.332-first-turn.json")
    body = {k: captured[k] for k in ("model", "max_tokens", "system", "messages")}
    conversation = messages_conversation(validate_body(MessagesRequest, body))
    roles = [m.role for m in conversation.messages]
    assert roles == ["system", "user", "system"]  # the late system message kept in place
    late = conversation.messages[-1].text()
    assert late.startswith("# Environment")
    prompt = _qwen35_prompt(conversation)
    system = prompt.split("<|im_end|>")[0]
    # Qwen3.5 refuses it in place: it joins the leading system message, after the rest.
    assert system.endswith(late.strip())
    assert conversation.messages[0].text().strip() in system


def test_responses_instructions_come_first() -> None:
    body = {"model": "m", "instructions": "Be brief.", "input": CODEX_INPUT[:4]}
    conversation = responses_conversation(validate_body(ResponsesRequest, body))
    assert [m.role for m in conversation.messages][:3] == ["system", "developer", "developer"]
    system = _qwen35_prompt(conversation).split("<|im_end|>")[0]
    assert system == f"<|im_start|>system\nBe brief.\n\n{BASE}\n\n{SKILLS}{PERMISSIONS}"


def test_messages_system_field_is_the_leading_system_message() -> None:
    body = {
        "model": "m",
        "max_tokens": 64,
        "system": [{"type": "text", "text": "You are a Claude agent."}],
        "messages": [{"role": "user", "content": "say hello"}],
    }
    conversation = messages_conversation(validate_body(MessagesRequest, body))
    assert [(m.role, m.text()) for m in conversation.messages] == [
        ("system", "You are a Claude agent."),
        ("user", "say hello"),
    ]


def test_messages_keeps_claude_codes_system_message_after_the_user_turn() -> None:
    body = {
        "model": "m",
        "max_tokens": 64,
        "system": "You are a Claude agent.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "say hello"}]},
            {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
        ],
    }
    conversation = messages_conversation(validate_body(MessagesRequest, body))
    assert [(m.role, m.text()) for m in conversation.messages] == [
        ("system", "You are a Claude agent."),
        ("user", "say hello"),
        ("system", "# Environment"),
    ]
    prompt = _qwen35_prompt(conversation)
    assert prompt.startswith("<|im_start|>system\nYou are a Claude agent.\n\n# Environment")
