"""OpenAI Responses body → Conversation.

`input` items become messages in order: adjacent `reasoning`, assistant `message` and
`function_call` items are one assistant turn (reasoning, then text, then its calls), a
`function_call_output` is a tool message answering its `call_id`. `instructions` is the
system message of this request only (as OpenAI's, it is not carried to the next response);
`previous_response_id`'s history is placed before this request's input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
from tera_serve.protocol.responses import (
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionToolChoice,
    InputImage,
    InputText,
    MessageItem,
    MessagePart,
    ReasoningItem,
    ResponsesRequest,
    ToolParam,
)

RESPONSES_PARAMS = {
    "max_tokens": "max_output_tokens",
    "messages": "input",
    "tools": "tools",
    "tool_parameters": "tools[{name}].parameters",
    "tool_choice": "tool_choice",
    "response_format": "text.format",
}
_INCLUDABLE = ("reasoning.encrypted_content",)
"""Reasoning is returned as plain `reasoning_text` content, so this asks for nothing more."""


def _parts(parts: str | list[MessagePart], param: str) -> tuple[ContentPart, ...]:
    if isinstance(parts, str):
        return (TextPart(parts),)
    out: list[ContentPart] = []
    for index, part in enumerate(parts):
        where = f"{param}[{index}]"
        if isinstance(part, InputText):
            out.append(TextPart(part.text))
        elif isinstance(part, InputImage):
            if part.image_url is None:
                raise InvalidRequestError(
                    "Images are taken as `image_url` (a data URI or URL); files are not stored "
                    "here.",
                    param=f"{where}.image_url",
                )
            out.append(
                ImagePart(url=part.image_url, detail=part.detail, param=f"{where}.image_url")
            )
        else:
            out.append(TextPart(part.refusal))
    return tuple(out)


@dataclass
class _Turn:
    """The assistant turn being assembled from adjacent items."""

    reasoning: list[str] = field(default_factory=list)
    parts: list[ContentPart] = field(default_factory=list)
    calls: list[ToolCallPart] = field(default_factory=list)

    def message(self) -> Message:
        return Message(
            role="assistant",
            parts=tuple(self.parts),
            tool_calls=tuple(self.calls),
            reasoning="\n".join(self.reasoning) or None,
        )


class _Builder:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.turn: _Turn | None = None

    def flush(self) -> None:
        if self.turn is not None:
            self.messages.append(self.turn.message())
            self.turn = None

    def assistant(self, *, fresh: bool) -> _Turn:
        """The open assistant turn; `fresh` starts a new one if this one already went on."""
        if self.turn is None or fresh:
            self.flush()
            self.turn = _Turn()
        return self.turn


def input_messages(request: ResponsesRequest) -> list[Message]:
    """This request's `input` as messages (without `instructions`)."""
    if isinstance(request.input, str):
        return [Message(role="user", parts=(TextPart(request.input),))]
    builder = _Builder()
    for index, item in enumerate(request.input):
        where = f"input[{index}]"
        if isinstance(item, ReasoningItem):
            turn = builder.turn
            fresh = turn is not None and bool(turn.parts or turn.calls)
            text = "".join(part.text for part in item.content or item.summary)
            builder.assistant(fresh=fresh).reasoning.append(text)
        elif isinstance(item, FunctionCallItem):
            call = ToolCallPart(id=item.call_id, name=item.name, arguments=item.arguments)
            builder.assistant(fresh=False).calls.append(call)
        elif isinstance(item, MessageItem) and item.role == "assistant":
            turn = builder.turn
            fresh = turn is not None and bool(turn.calls)
            builder.assistant(fresh=fresh).parts.extend(_parts(item.content, f"{where}.content"))
        elif isinstance(item, MessageItem):
            builder.flush()
            parts = _parts(item.content, f"{where}.content")
            builder.messages.append(Message(role=item.role, parts=parts))
        elif isinstance(item, FunctionCallOutputItem):
            builder.flush()
            parts = _parts(item.output, f"{where}.output")
            builder.messages.append(Message(role="tool", parts=parts, tool_call_id=item.call_id))
        else:
            raise InvalidRequestError(
                f"Input items of type `{item.type}` are not supported here.",
                param=f"{where}.type",
            )
    builder.flush()
    return builder.messages


def _tool(tool: ToolParam, index: int) -> ToolSpec:
    if tool.type != "function":
        raise InvalidRequestError(
            f"The built-in tool `{tool.type}` is not offered by this server; "
            "define a `function` tool instead.",
            param=f"tools[{index}].type",
        )
    if tool.name is None:
        raise InvalidRequestError("A function tool needs a `name`.", param=f"tools[{index}].name")
    return ToolSpec(
        name=tool.name, description=tool.description, parameters=tool.parameters, strict=tool.strict
    )


_MODES: dict[str, Literal["auto", "none", "required"]] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
}


def _tool_choice(choice: str | FunctionToolChoice | None) -> ToolChoice | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        return ToolChoice(_MODES[choice])
    if choice.type != "function":
        raise InvalidRequestError(
            f"`tool_choice` of type `{choice.type}` is not supported; use auto, none, "
            "required or a function.",
            param="tool_choice.type",
        )
    if not choice.name:
        raise InvalidRequestError(
            "`tool_choice.name` is required for a function choice.", param="tool_choice.name"
        )
    return ToolChoice("named", choice.name)


def _output_format(request: ResponsesRequest) -> OutputFormat | None:
    fmt = request.text.format if request.text else None
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_schema" and not fmt.name:
        raise InvalidRequestError(
            "`text.format.name` is required for a json_schema format.", param="text.format.name"
        )
    return OutputFormat(fmt.type, fmt.schema_)


def _check_unsupported(request: ResponsesRequest) -> None:
    for name in request.include or ():
        if name not in _INCLUDABLE:
            raise InvalidRequestError(
                f"`include` value `{name}` is not supported here.", param="include"
            )
    if request.text is not None and request.text.verbosity not in (None, "medium"):
        raise InvalidRequestError(
            "`text.verbosity` is not supported by open models' templates.",
            param="text.verbosity",
        )


def responses_conversation(
    request: ResponsesRequest, history: tuple[Message, ...] = ()
) -> Conversation:
    """The request on top of `history` (the earlier turns `previous_response_id` names)."""
    _check_unsupported(request)
    messages: list[Message] = []
    if request.instructions:
        messages.append(Message(role="system", parts=(TextPart(request.instructions),)))
    messages.extend(history)
    messages.extend(input_messages(request))
    if not messages:
        raise InvalidRequestError("`input` must hold at least one item.", param="input")
    effort = request.reasoning.effort if request.reasoning else None
    return Conversation(
        model=request.model,
        messages=tuple(messages),
        sampling=Sampling(
            temperature=request.temperature, top_p=request.top_p, ignore_eos=request.ignore_eos
        ),
        max_tokens=request.max_output_tokens,
        tools=tuple(_tool(tool, i) for i, tool in enumerate(request.tools or ())),
        tool_choice=_tool_choice(request.tool_choice),
        parallel_tool_calls=request.parallel_tool_calls is not False,
        output_format=_output_format(request),
        reasoning_effort="high" if effort == "xhigh" else effort,
        params=RESPONSES_PARAMS,
    )


def carried_messages(request: ResponsesRequest, conversation: Conversation) -> tuple[Message, ...]:
    """What a stored response carries to the next one: the conversation without this
    request's `instructions` (history, then input, as responses_conversation laid it out)."""
    return conversation.messages[1:] if request.instructions else conversation.messages
