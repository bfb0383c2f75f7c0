"""Chat request → gpt-oss prompt, rendered by the harmony library (not a Jinja template).

Layout of the rendered conversation:
- system: model identity, knowledge cutoff, `Reasoning: <effort>`, the valid channels;
- developer: the request's system/developer messages as instructions, and the tools as a
  `functions` namespace (only when tools are offered and tool_choice is not "none");
  every system and developer message, wherever it stands, goes into these instructions
  in order, joined by a blank line. Harmony has this one place for a client's
  instructions (the `system` message is the model's own: identity, effort, channels);
  gpt-oss's Jinja template reads only a first system/developer message and drops later
  ones without a word, so a Codex reminder between tool turns would be lost there;
- the history: user messages; assistant reasoning (analysis), content (final, or a
  commentary preamble before tool calls) and tool calls (commentary to `functions.NAME`,
  `<|constrain|>json`); tool results from `functions.NAME` back to the assistant;
- `<|start|>assistant`, for the model to complete.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol

from openai_harmony import (
    Author,
    Conversation,
    DeveloperContent,
    HarmonyEncodingName,
    HarmonyError,
    Message,
    ReasoningEffort,
    Role,
    SystemContent,
    ToolDescription,
    load_harmony_encoding,
)

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.chat.template import render_bounded
from tera_serve.config import ModelConfig
from tera_serve.core.conversation import Conversation as ChatConversation
from tera_serve.core.conversation import Message as ChatMessage
from tera_serve.core.conversation import ToolSpec
from tera_serve.errors import InvalidRequestError


class _Served(Protocol):
    config: ModelConfig


DEFAULT_REASONING_EFFORT = "medium"
_EFFORTS = {
    "low": ReasoningEffort.LOW,
    "medium": ReasoningEffort.MEDIUM,
    "high": ReasoningEffort.HIGH,
}
FUNCTIONS_PREFIX = "functions."


@functools.cache
def harmony_encoding() -> Any:
    """The gpt-oss encoding (o200k_base is built into oss-harmony: no network)."""
    return load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)


# OpenAI's "none" and "minimal" have no harmony level: "none" skips the analysis channel
# (the prompt opens the final channel), "minimal" is the lowest harmony effort.
_EFFORT_ALIASES = {"none": "low", "minimal": "low"}
FINAL_CHANNEL_HEADER = "<|channel|>final<|message|>"


def reasoning_effort(request: ChatConversation, served: _Served) -> str:
    """The request's effort, else the server's configured default, else medium."""
    if request.reasoning_effort is not None:
        return _EFFORT_ALIASES.get(request.reasoning_effort, request.reasoning_effort)
    configured = served.config.default_chat_template_kwargs.get("reasoning_effort")
    if isinstance(configured, str) and configured.lower() in _EFFORTS:
        return configured.lower()
    return DEFAULT_REASONING_EFFORT


def _system_message(effort: str) -> Message:
    return Message.from_role_and_content(
        Role.SYSTEM, SystemContent.new().with_reasoning_effort(_EFFORTS[effort])
    )


def _developer_message(instructions: str, tools: Sequence[ToolSpec]) -> Message | None:
    if not instructions and not tools:
        return None
    content = DeveloperContent.new()
    if instructions:
        content = content.with_instructions(instructions)
    if tools:
        content = content.with_function_tools(
            [
                ToolDescription.new(
                    tool.name,
                    tool.description or "",
                    dict(tool.parameters) if tool.parameters is not None else None,
                )
                for tool in tools
            ]
        )
    return Message.from_role_and_content(Role.DEVELOPER, content)


def _assistant(text: str, channel: str) -> Message:
    return Message.from_role_and_content(Role.ASSISTANT, text).with_channel(channel)


class _ToolNames:
    """Maps tool results back to the function they answer (by id, name, or position)."""

    def __init__(self) -> None:
        self._by_id: dict[str, str] = {}
        self._pending: list[str] = []
        self._answered = 0

    def called(self, message: ChatMessage) -> None:
        self._pending = []
        self._answered = 0
        for call in message.tool_calls:
            if call.id is not None:
                self._by_id[call.id] = call.name
            self._pending.append(call.name)

    def resolve(self, message: ChatMessage, position: int) -> str:
        name = self._by_id.get(message.tool_call_id or "") or message.name
        if name is None and self._answered < len(self._pending):
            name = self._pending[self._answered]
        self._answered += 1
        if name is None:
            raise InvalidRequestError(
                f"messages[{position}]: a tool message must answer an earlier assistant "
                "tool call (its `tool_call_id` matches none).",
                param="messages",
            )
        return name


def _assistant_messages(message: ChatMessage) -> list[Message]:
    out: list[Message] = []
    reasoning = message.reasoning
    if reasoning:
        out.append(_assistant(reasoning, "analysis"))
    text = message.text()
    if message.tool_calls:
        if text:
            # Text before tool calls is a preamble, which harmony puts on commentary.
            out.append(_assistant(text, "commentary"))
        out.extend(
            _assistant(call.arguments, "commentary")
            .with_recipient(FUNCTIONS_PREFIX + call.name)
            .with_content_type("<|constrain|>json")
            for call in message.tool_calls
        )
    elif text or not reasoning:
        out.append(_assistant(text, "final"))
    return out


def history_messages(messages: Sequence[ChatMessage]) -> tuple[str, list[Message]]:
    """The instructions (every system/developer text, in order, wherever it stood) and the
    harmony messages of the history."""
    instructions: list[str] = []
    out: list[Message] = []
    names = _ToolNames()
    for position, message in enumerate(messages):
        if message.role in ("system", "developer"):
            if message.text():
                instructions.append(message.text())
        elif message.role == "user":
            out.append(Message.from_role_and_content(Role.USER, message.text()))
        elif message.role == "assistant":
            out.extend(_assistant_messages(message))
            names.called(message)
        else:
            name = names.resolve(message, position)
            out.append(
                Message.from_author_and_content(
                    Author.new(Role.TOOL, FUNCTIONS_PREFIX + name), message.text()
                )
                .with_channel("commentary")
                .with_recipient("assistant")
            )
    return "\n\n".join(instructions), drop_answered_reasoning(out)


def drop_answered_reasoning(messages: list[Message]) -> list[Message]:
    """Drop analysis before the last final answer.

    Harmony drops earlier chain of thought once the assistant answered on the final
    channel; analysis after that answer (the current turn's tool-calling) stays. The library
    does this only when the conversation ends with a final message, so do it here for
    longer conversations too.
    """
    last_final = max(
        (
            i
            for i, m in enumerate(messages)
            if m.author.role == Role.ASSISTANT and m.channel == "final"
        ),
        default=-1,
    )
    return [m for i, m in enumerate(messages) if not (i < last_final and m.channel == "analysis")]


def render_harmony_tokens(request: ChatConversation, served: _Served) -> list[int]:
    """Blocking: the prompt token ids for `request` (assistant to complete)."""
    instructions, history = history_messages(request.messages)
    conversation: list[Message] = [_system_message(reasoning_effort(request, served))]
    developer = _developer_message(instructions, request.tools if request.tools_offered() else ())
    if developer is not None:
        conversation.append(developer)
    conversation.extend(history)
    tokens: list[int] = harmony_encoding().render_conversation_for_completion(
        Conversation.from_messages(conversation), Role.ASSISTANT
    )
    return tokens


async def render_harmony_prompt(request: ChatConversation, served: _Served) -> ChatPrompt:
    def work() -> ChatPrompt:
        encoding = harmony_encoding()
        try:
            tokens = render_harmony_tokens(request, served)
        except (HarmonyError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            raise InvalidRequestError(
                f"These messages cannot be rendered in the harmony format: {exc}",
                param="messages",
            ) from exc
        prefix: tuple[int, ...] = ()
        if request.reasoning_effort == "none":
            prefix = tuple(encoding.encode(FINAL_CHANNEL_HEADER, allowed_special="all"))
        return ChatPrompt(
            text=encoding.decode(tokens + list(prefix)),
            token_ids=tuple(tokens) + prefix,
            # <|return|> ends an answer, <|call|> a tool call (sorted: harmony's order varies).
            stop_token_ids=tuple(sorted(encoding.stop_tokens_for_assistant_actions())),
            skip_special_tokens=False,
            thinking_disabled=bool(prefix),
            parser_prefix=prefix,
        )

    return await render_bounded(work, "the harmony prompt")
