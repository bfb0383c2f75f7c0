"""Many system and developer messages, in any position, on every family, with the real
templates: two developer messages first (Codex CLI), a system message after the first user
turn (Claude Code) and a developer message between tool turns.

Each family renders it without error, every message's text reaches the prompt in order,
and the prompt is exactly what the family's template makes of the shape it accepts."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.chat.template import (
    ChatTemplateRenderer,
    message_to_template_dict,
    tools_to_template_list,
)
from tera_serve.config import ModelConfig
from tera_serve.core.conversation import (
    Conversation,
    Message,
    Role,
    TextPart,
    ToolCallPart,
    ToolSpec,
)
from tera_serve.errors import InvalidRequestError
from tera_serve.families.base import FamilyProfile
from tera_serve.families.registry import resolve_family
from tests.fixtures.qwen3 import qwen3_tokenizer
from tests.fixtures.qwen35 import qwen35_tokenizer
from tests.fixtures.smollm2 import smollm2_tokenizer

GPT_OSS_TEMPLATE = Path(__file__).parents[2] / "fixtures" / "gpt_oss_files" / "chat_template.jinja"
DEV_ONE = "You are a coding agent running in the Codex CLI."
DEV_TWO = "<permissions instructions>sandbox_mode is read-only</permissions instructions>"
USER = "List the files here."
SYSTEM_LATE = "# Environment\nPrimary working directory: /tmp/work"
RESULT_ONE = "a.txt\nb.txt"
DEV_MID = "<reminder>Stay inside the working directory.</reminder>"
RESULT_TWO = "c.txt"
INSTRUCTIONS = (DEV_ONE, DEV_TWO, SYSTEM_LATE, DEV_MID)
LS = ToolSpec(
    "ls", "List a folder.", {"type": "object", "properties": {"path": {"type": "string"}}}
)


def _text(role: Role, text: str) -> Message:
    return Message(role, (TextPart(text),))


def _call(call_id: str, path: str) -> Message:
    return Message("assistant", tool_calls=(ToolCallPart(call_id, "ls", f'{{"path": "{path}"}}'),))


def _result(call_id: str, text: str) -> Message:
    return Message("tool", (TextPart(text),), tool_call_id=call_id)


CONVERSATION = (
    _text("developer", DEV_ONE),
    _text("developer", DEV_TWO),
    _text("user", USER),
    _text("system", SYSTEM_LATE),
    _call("call_1", "."),
    _result("call_1", RESULT_ONE),
    _text("developer", DEV_MID),
    _call("call_2", "/tmp"),
    _result("call_2", RESULT_TWO),
)
# The conversation as each template accepts it.
IN_PLACE = (
    _text("system", f"{DEV_ONE}\n\n{DEV_TWO}"),
    _text("user", USER),
    _text("system", SYSTEM_LATE),
    _call("call_1", "."),
    _result("call_1", RESULT_ONE),
    _text("system", DEV_MID),
    _call("call_2", "/tmp"),
    _result("call_2", RESULT_TWO),
)
MERGED = (
    _text("system", "\n\n".join(INSTRUCTIONS)),
    _text("user", USER),
    _call("call_1", "."),
    _result("call_1", RESULT_ONE),
    _call("call_2", "/tmp"),
    _result("call_2", RESULT_TWO),
)
TEMPLATE_FAMILIES = {
    # name: (tokenizer, model_type, family, later system messages in place)
    "smollm2": (smollm2_tokenizer, "llama", "plain", True),
    "qwen3": (qwen3_tokenizer, "qwen3", "qwen3", True),
    "qwen3.5": (qwen35_tokenizer, "qwen3_5", "qwen3.5", False),
}


def _family(tokenizer: Any, model_type: str) -> FamilyProfile:
    template = tokenizer.chat_template if tokenizer is not None else None
    return resolve_family(SimpleNamespace(model_type=model_type), template)


def _model(tokenizer: Any) -> Any:
    renderer = ChatTemplateRenderer(tokenizer) if tokenizer is not None else None
    return SimpleNamespace(config=ModelConfig(model="m"), renderer=renderer, tokenizer=tokenizer)


def _render(
    family: FamilyProfile, model: Any, messages: tuple[Message, ...], **fields: Any
) -> ChatPrompt:
    conversation = Conversation(model="m", messages=messages, **fields)
    return asyncio.run(family.render(conversation, model, open_reasoning=False))


def _in_order(text: str, pieces: tuple[str, ...]) -> bool:
    positions = [text.find(piece) for piece in pieces]
    return -1 not in positions and positions == sorted(positions)


def _template_text(tokenizer: Any, messages: tuple[Message, ...], **kwargs: Any) -> str:
    return ChatTemplateRenderer(tokenizer).render_text(
        [message_to_template_dict(m) for m in messages], **kwargs
    )


@pytest.mark.parametrize("name", list(TEMPLATE_FAMILIES))
def test_template_families_place_every_instruction(name: str) -> None:
    load, model_type, family_name, in_place = TEMPLATE_FAMILIES[name]
    tokenizer = load()
    family = _family(tokenizer, model_type)
    assert family.name == family_name
    prompt = _render(family, _model(tokenizer), CONVERSATION, tools=(LS,))
    if in_place:
        # Every text where the client put it.
        order = (DEV_ONE, DEV_TWO, USER, SYSTEM_LATE, RESULT_ONE, DEV_MID, RESULT_TWO)
    else:
        # The instructions in order in the leading system message, then the rest.
        order = (*INSTRUCTIONS, USER, RESULT_ONE, RESULT_TWO)
    assert _in_order(prompt.text, order)
    expected = IN_PLACE if in_place else MERGED
    tools = tools_to_template_list((LS,))
    assert prompt.text == _template_text(tokenizer, expected, tools=tools)
    assert list(prompt.token_ids) == tokenizer.encode(prompt.text, add_special_tokens=False)
    # No message reaches a template under a role it does not know.
    assert "<|im_start|>developer" not in prompt.text


def test_qwen35_refuses_the_conversation_as_sent() -> None:
    # What placement saves the client from: the template itself on the messages as sent.
    as_sent = [message_to_template_dict(m) for m in CONVERSATION]
    renderer = ChatTemplateRenderer(qwen35_tokenizer())
    with pytest.raises(InvalidRequestError, match="Unexpected message role"):
        renderer.render_text(as_sent)
    as_system = [{**m, "role": "system"} if m["role"] == "developer" else m for m in as_sent]
    with pytest.raises(InvalidRequestError, match="System message must be at the beginning"):
        renderer.render_text(as_system)


def test_qwen3_no_longer_drops_developer_messages() -> None:
    # Qwen3's template has no branch for `developer`: as sent, those texts vanish.
    as_sent = [message_to_template_dict(m) for m in CONVERSATION]
    raw = ChatTemplateRenderer(qwen3_tokenizer()).render_text(as_sent)
    assert DEV_ONE not in raw and DEV_MID not in raw
    family = _family(qwen3_tokenizer(), "qwen3")
    prompt = _render(family, _model(qwen3_tokenizer()), CONVERSATION)
    assert DEV_ONE in prompt.text and DEV_MID in prompt.text


class _RequestTemplateSpy(ChatTemplateRenderer):
    """Records the messages handed to a request-supplied template (which would run in the
    sandbox worker) and renders them with the server's template instead."""

    seen: list[dict[str, Any]] | None = None

    async def render(self, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
        self.seen = messages
        return await super().render(messages, **{**kwargs, "chat_template": None})


def test_a_request_template_gets_the_merged_shape() -> None:
    # A template the client sends is not probed: later messages join the leading one,
    # even on a family whose own template would take them in place.
    tokenizer = qwen3_tokenizer()
    spy = _RequestTemplateSpy(tokenizer)
    model = SimpleNamespace(config=ModelConfig(model="m"), renderer=spy, tokenizer=tokenizer)
    _render(_family(tokenizer, "qwen3"), model, CONVERSATION, chat_template="{{ messages }}")
    assert spy.seen == [message_to_template_dict(m) for m in MERGED]


def test_gpt_oss_puts_every_instruction_in_the_developer_message() -> None:
    family = _family(None, "gpt_oss")
    prompt = _render(family, _model(None), CONVERSATION, tools=(LS,))
    developer = prompt.text.split("<|start|>developer<|message|>")[1].split("<|end|>")[0]
    assert developer.startswith("# Instructions\n\n" + "\n\n".join(INSTRUCTIONS) + "\n\n# Tools")
    rest = prompt.text.split(developer)[1]
    assert _in_order(rest, (USER, RESULT_ONE, RESULT_TWO))
    assert not any(text in rest for text in INSTRUCTIONS)


def test_gpt_oss_prompt_is_its_template_on_the_merged_conversation() -> None:
    """Without tools (the harmony library and the Jinja template write tool calls a little
    differently), the prompt is gpt-oss's own template applied to one leading developer
    message; the template on the messages as sent drops every later instruction."""
    history = (
        _text("developer", DEV_ONE),
        _text("developer", DEV_TWO),
        _text("user", USER),
        _text("system", SYSTEM_LATE),
        _text("assistant", "Two files."),
        _text("developer", DEV_MID),
        _text("user", "And now?"),
    )
    prompt = _render(_family(None, "gpt_oss"), _model(None), history)
    jinja = ChatTemplateRenderer(qwen3_tokenizer(), GPT_OSS_TEMPLATE.read_text())
    merged = [{"role": "developer", "content": "\n\n".join(INSTRUCTIONS)}] + [
        {"role": m.role, "content": m.text()} for m in history if m.role in ("user", "assistant")
    ]
    expected = re.sub(r"Current date: \d{4}-\d\d-\d\d\n", "", jinja.render_text(merged))
    # The template leaves a blank line before the developer message's end; the harmony
    # library, the format's reference renderer, does not.
    assert prompt.text == expected.replace("\n\n<|end|>", "<|end|>", 1)
    as_sent = jinja.render_text([{"role": m.role, "content": m.text()} for m in history])
    assert not any(text in as_sent for text in (DEV_TWO, SYSTEM_LATE, DEV_MID))
