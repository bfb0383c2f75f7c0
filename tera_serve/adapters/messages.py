"""Anthropic Messages body → Conversation.

A user turn's `tool_result` blocks become tool messages (answers to the previous assistant
turn's `tool_use` blocks), followed by the turn's own text and images; an assistant turn's
`thinking` blocks are its replayed reasoning and its `tool_use` blocks its tool calls.
"""

from __future__ import annotations

from typing import Literal

import orjson

from tera_serve.core.conversation import (
    ContentPart,
    Conversation,
    ImagePart,
    Message,
    OutputFormat,
    Sampling,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolSpec,
)
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.messages import (
    ImageBlock,
    MessageParam,
    MessagesCountRequest,
    MessagesRequest,
    TextBlock,
    ThinkingBlock,
    ThinkingEnabled,
    ToolParam,
    ToolResultBlock,
    ToolUseBlock,
)

MESSAGES_PARAMS = {
    "max_tokens": "max_tokens",
    "messages": "messages",
    "tools": "tools",
    "tool_parameters": "tools[{index}].input_schema",
    "tool_choice": "tool_choice",
    "response_format": "output_config.format",
    "thinking_token_budget": "thinking.budget_tokens",
}
_CHOICE_MODES: dict[str, Literal["auto", "none", "required"]] = {
    "any": "required",
    "auto": "auto",
    "none": "none",
}
TOOL_ERROR_PREFIX = "Error: "
"""How a `tool_result` with `is_error: true` reaches the model (templates have no flag)."""


def _image(block: ImageBlock, param: str) -> ImagePart:
    source = block.source
    if source.type == "base64":
        return ImagePart(url=f"data:{source.media_type};base64,{source.data}", param=param)
    return ImagePart(url=source.url, param=param)


def _parts(blocks: list[TextBlock | ImageBlock], param: str) -> tuple[ContentPart, ...]:
    return tuple(
        TextPart(b.text) if isinstance(b, TextBlock) else _image(b, f"{param}[{i}].source")
        for i, b in enumerate(blocks)
    )


def _tool_result(block: ToolResultBlock, param: str) -> Message:
    if isinstance(block.content, str):
        parts: tuple[ContentPart, ...] = (TextPart(block.content),)
    else:
        parts = _parts(list(block.content), f"{param}.content")
    if block.is_error:
        parts = (TextPart(TOOL_ERROR_PREFIX), *parts)
    return Message(role="tool", parts=parts, tool_call_id=block.tool_use_id)


def _user_turn(message: MessageParam, param: str) -> list[Message]:
    if isinstance(message.content, str):
        return [Message(role="user", parts=(TextPart(message.content),))]
    out: list[Message] = []
    parts: list[ContentPart] = []
    for index, block in enumerate(message.content):
        where = f"{param}.content[{index}]"
        if isinstance(block, ToolResultBlock):
            out.append(_tool_result(block, where))
        elif isinstance(block, TextBlock):
            parts.append(TextPart(block.text))
        elif isinstance(block, ImageBlock):
            parts.append(_image(block, f"{where}.source"))
        else:
            raise InvalidRequestError(
                f"A user message cannot hold a `{block.type}` block.", param=where
            )
    if parts:
        out.append(Message(role="user", parts=tuple(parts)))
    return out


def _assistant_turn(message: MessageParam, param: str) -> Message:
    if isinstance(message.content, str):
        return Message(role="assistant", parts=(TextPart(message.content),))
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCallPart] = []
    for index, block in enumerate(message.content):
        if isinstance(block, TextBlock):
            text.append(block.text)
        elif isinstance(block, ThinkingBlock):
            reasoning.append(block.thinking)
        elif isinstance(block, ToolUseBlock):
            arguments = orjson.dumps(block.input).decode()
            calls.append(ToolCallPart(id=block.id, name=block.name, arguments=arguments))
        elif block.type == "redacted_thinking":
            continue  # opaque reasoning of another provider: nothing a model here can read
        else:
            raise InvalidRequestError(
                f"An assistant message cannot hold a `{block.type}` block.",
                param=f"{param}.content[{index}]",
            )
    return Message(
        role="assistant",
        parts=(TextPart("".join(text)),) if text else (),
        tool_calls=tuple(calls),
        reasoning="\n".join(reasoning) or None,
    )


def _tool(tool: ToolParam, index: int) -> ToolSpec:
    if tool.type not in (None, "custom"):
        raise InvalidRequestError(
            f"The server tool `{tool.type}` ({tool.name}) is not offered here; "
            "define it as a client tool with `input_schema`.",
            param=f"tools[{index}].type",
        )
    return ToolSpec(name=tool.name, description=tool.description, parameters=tool.input_schema)


def _tool_choice(request: MessagesCountRequest) -> tuple[ToolChoice | None, bool]:
    choice = request.tool_choice
    if choice is None:
        return None, True
    parallel = not choice.disable_parallel_tool_use
    if choice.type == "tool":
        if not choice.name:
            raise InvalidRequestError(
                "`tool_choice.name` is required when its type is 'tool'.", param="tool_choice"
            )
        return ToolChoice("named", choice.name), parallel
    return ToolChoice(_CHOICE_MODES[choice.type]), parallel


def _system(request: MessagesCountRequest) -> list[Message]:
    system = request.system
    if system is None:
        return []
    text = system if isinstance(system, str) else "".join(block.text for block in system)
    return [Message(role="system", parts=(TextPart(text),))] if text else []


# Anthropic's effort levels above `high` have no counterpart in open models' templates.
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


def _reasoning_effort(request: MessagesCountRequest) -> str | None:
    if request.thinking is not None and request.thinking.type == "disabled":
        return "none"
    effort = request.output_config.effort if request.output_config else None
    return _EFFORTS[effort] if effort else None


def _output_format(request: MessagesCountRequest) -> OutputFormat | None:
    fmt = request.output_config.format if request.output_config else None
    return OutputFormat("json_schema", fmt.schema_) if fmt is not None else None


def messages_conversation(request: MessagesCountRequest) -> Conversation:
    messages = _system(request)
    for index, message in enumerate(request.messages):
        param = f"messages[{index}]"
        if message.role == "user":
            messages.extend(_user_turn(message, param))
        else:
            messages.append(_assistant_turn(message, param))
    choice, parallel = _tool_choice(request)
    thinking = request.thinking
    full = request if isinstance(request, MessagesRequest) else None
    return Conversation(
        model=request.model,
        messages=tuple(messages),
        sampling=Sampling(
            temperature=full.temperature if full else None,
            top_p=full.top_p if full else None,
            top_k=full.top_k if full else None,
            stop=tuple(full.stop_sequences or ()) if full else (),
            ignore_eos=full.ignore_eos if full else False,
        ),
        max_tokens=full.max_tokens if full else None,
        tools=tuple(_tool(tool, i) for i, tool in enumerate(request.tools or ())),
        tool_choice=choice,
        parallel_tool_calls=parallel,
        output_format=_output_format(request),
        reasoning_effort=_reasoning_effort(request),
        thinking_budget=thinking.budget_tokens if isinstance(thinking, ThinkingEnabled) else None,
        thinking_budget_required=False,
        params=MESSAGES_PARAMS,
    )
