"""Anthropic Messages body → Conversation.

A user turn's `tool_result` blocks become tool messages (answers to the previous assistant
turn's `tool_use` blocks), followed by the turn's own text and images; an assistant turn's
`thinking` blocks are its replayed reasoning and its `tool_use` blocks its tool calls.
`system` and `developer` messages stay where they stand, in order (the family places
them); Claude Code's billing-header block in `system` is not for the model and is dropped.
"""

from __future__ import annotations

from typing import Literal

import orjson

from tera_serve.adapters.messages_tools import messages_tools
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
)
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.messages import (
    ContentBlock,
    ImageBlock,
    MessageParam,
    MessagesCountRequest,
    MessagesRequest,
    TextBlock,
    ThinkingAdaptive,
    ThinkingBlock,
    ThinkingEnabled,
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
BILLING_HEADER_PREFIX = "x-anthropic-billing-header:"
"""Claude Code's first `system` block (`x-anthropic-billing-header: cc_version=...;`): a
per-request header for Anthropic's billing, not the model. Left in, it would change the
prompt's first tokens on every request, and the prefix cache of the stable prompt behind
it would never hit."""
CLEAR_THINKING = "clear_thinking_20251015"


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


def _assistant_turn(message: MessageParam, param: str, keep_thinking: bool) -> Message:
    if isinstance(message.content, str):
        return Message(role="assistant", parts=(TextPart(message.content),))
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCallPart] = []
    for index, block in enumerate(message.content):
        if isinstance(block, TextBlock):
            text.append(block.text)
        elif isinstance(block, ThinkingBlock):
            if keep_thinking:
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


def _instruction_text(content: str | list[ContentBlock] | list[TextBlock], param: str) -> str:
    """A system or developer text: its text blocks joined, billing headers left out."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for index, block in enumerate(content):
        if not isinstance(block, TextBlock):
            raise InvalidRequestError(
                f"A system or developer message holds text blocks only, not `{block.type}`.",
                param=f"{param}.content[{index}]",
            )
        if not block.text.startswith(BILLING_HEADER_PREFIX):
            texts.append(block.text)
    return "".join(texts)


def _instruction_turn(message: MessageParam, param: str) -> list[Message]:
    text = _instruction_text(message.content, param)
    role: Literal["system", "developer"] = "developer" if message.role == "developer" else "system"
    return [Message(role=role, parts=(TextPart(text),))] if text else []


def _thinking_turns_kept(request: MessagesCountRequest) -> int | None:
    """How many of the latest assistant turns keep their replayed thinking, by the last
    `clear_thinking_20251015` edit (Anthropic's default `keep` is one turn); None: all."""
    management = request.context_management
    kept: int | None = None
    for index, edit in enumerate(management.edits if management else ()):
        if edit.type != CLEAR_THINKING:
            continue  # clear_tool_uses_* and the like: accepted, no effect
        if edit.keep == "all":
            kept = None
        elif edit.keep is None:
            kept = 1
        elif edit.keep.type == "thinking_turns":
            kept = edit.keep.value
        else:
            raise InvalidRequestError(
                f'`keep` of {CLEAR_THINKING} is "all" or {{"type": "thinking_turns", '
                f'"value": n}}, not type `{edit.keep.type}`.',
                param=f"context_management.edits[{index}].keep",
            )
    return kept


def _turn_numbers(messages: list[MessageParam]) -> list[int]:
    """Each message's assistant turn: a new one starts at every user message that holds
    more than tool results (a tool loop's assistant messages are one turn)."""
    turn, numbers = 0, []
    for message in messages:
        if message.role == "user" and (
            isinstance(message.content, str)
            or any(not isinstance(block, ToolResultBlock) for block in message.content)
        ):
            turn += 1
        numbers.append(turn)
    return numbers


def _thinking_kept(request: MessagesCountRequest) -> list[bool]:
    """Per message: whether its thinking blocks are replayed (clear_thinking)."""
    kept = _thinking_turns_kept(request)
    if kept is None:
        return [True] * len(request.messages)
    turns = _turn_numbers(request.messages)
    thinking = sorted(
        {
            turn
            for turn, message in zip(turns, request.messages, strict=True)
            if message.role == "assistant"
            and not isinstance(message.content, str)
            and any(isinstance(block, ThinkingBlock) for block in message.content)
        }
    )
    keep = set(thinking[len(thinking) - kept :]) if kept else set()
    return [turn in keep for turn in turns]


def thinking_omitted(request: MessagesCountRequest) -> bool:
    """`thinking.display: "omitted"`: thinking blocks come back empty, signature kept."""
    thinking = request.thinking
    return isinstance(thinking, ThinkingEnabled | ThinkingAdaptive) and (
        thinking.display == "omitted"
    )


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
    text = _instruction_text(system, "system")
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
    thinking_kept = _thinking_kept(request)
    for index, message in enumerate(request.messages):
        param = f"messages[{index}]"
        if message.role == "user":
            messages.extend(_user_turn(message, param))
        elif message.role == "assistant":
            messages.append(_assistant_turn(message, param, thinking_kept[index]))
        else:
            messages.extend(_instruction_turn(message, param))
    choice, parallel = _tool_choice(request)
    tools = messages_tools(request.tools)  # Anthropic's own tools: left out, named
    tools.check_choice(choice)
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
        tools=tools.specs,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        output_format=_output_format(request),
        reasoning_effort=_reasoning_effort(request),
        thinking_budget=thinking.budget_tokens if isinstance(thinking, ThinkingEnabled) else None,
        thinking_budget_required=False,
        omitted_tools=tools.omitted,
        params=MESSAGES_PARAMS,
    )
