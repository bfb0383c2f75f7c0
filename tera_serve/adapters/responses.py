"""OpenAI Responses body → Conversation.

`input` items become messages in order: adjacent `reasoning`, assistant `message` and
`function_call` / `custom_tool_call` items are one assistant turn (reasoning, then text,
then its calls), a `function_call_output` / `custom_tool_call_output` is a tool message
answering its `call_id`. `system` and `developer` messages stay where they are, in order:
the family places them. `instructions` is the system message of this request only (as
OpenAI's, it is not carried to the next response); `previous_response_id`'s history is
placed before this request's input. A reasoning item's `encrypted_content` (this server's
sealed reasoning, service/reasoning_seal.py) is opened back into the turn's reasoning.
Tools: adapters/responses_tools.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tera_serve.adapters.responses_tools import (
    OfferedTools,
    offered_tools,
    responses_tool_choice,
    visible_name,
)
from tera_serve.core.conversation import (
    ContentPart,
    Conversation,
    ImagePart,
    Message,
    OutputFormat,
    Sampling,
    TextPart,
    ToolCallPart,
    freeform_arguments,
)
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.responses import (
    CustomToolCallItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputImage,
    InputText,
    MessageItem,
    MessagePart,
    ReasoningItem,
    ResponsesRequest,
)
from tera_serve.service.reasoning_seal import SealError

RESPONSES_PARAMS = {
    "max_tokens": "max_output_tokens",
    "messages": "input",
    "tools": "tools",
    "tool_parameters": "tools[{name}].parameters",
    "tool_choice": "tool_choice",
    "response_format": "text.format",
}
_INCLUDABLE = ("reasoning.encrypted_content",)
"""Reasoning items then carry `encrypted_content` too (their text sealed by the server)."""

Unseal = Callable[[str], str]
"""Opens a reasoning item's `encrypted_content` (for the request's model), or raises
SealError."""


def _no_seal(blob: str) -> str:
    raise SealError("this server reads no encrypted reasoning here")


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


def _reasoning(item: ReasoningItem, where: str, unseal: Unseal) -> str:
    if item.encrypted_content is None:
        return "".join(part.text for part in item.content or item.summary)
    try:
        return unseal(item.encrypted_content)
    except SealError as exc:
        raise InvalidRequestError(
            f"The reasoning item's `encrypted_content` cannot be read: {exc}. Send back the "
            "reasoning items this server returned for this model, unchanged.",
            param=f"{where}.encrypted_content",
            code="invalid_encrypted_content",
        ) from None


def _call(item: FunctionCallItem | CustomToolCallItem) -> ToolCallPart:
    name = visible_name(item.name, item.namespace)
    if isinstance(item, CustomToolCallItem):
        return ToolCallPart(id=item.call_id, name=name, arguments=freeform_arguments(item.input))
    return ToolCallPart(id=item.call_id, name=name, arguments=item.arguments)


def input_messages(request: ResponsesRequest, unseal: Unseal = _no_seal) -> list[Message]:
    """This request's `input` as messages (without `instructions`)."""
    if isinstance(request.input, str):
        return [Message(role="user", parts=(TextPart(request.input),))]
    builder = _Builder()
    for index, item in enumerate(request.input):
        where = f"input[{index}]"
        if isinstance(item, ReasoningItem):
            turn = builder.turn
            fresh = turn is not None and bool(turn.parts or turn.calls)
            text = _reasoning(item, where, unseal)
            builder.assistant(fresh=fresh).reasoning.append(text)
        elif isinstance(item, (FunctionCallItem, CustomToolCallItem)):
            builder.assistant(fresh=False).calls.append(_call(item))
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


@dataclass(frozen=True)
class ResponsesTranslation:
    conversation: Conversation
    tools: OfferedTools
    """What the model's calls are on the wire (the output items read them)."""


def responses_conversation(
    request: ResponsesRequest, history: tuple[Message, ...] = (), unseal: Unseal = _no_seal
) -> Conversation:
    """The request on top of `history` (the earlier turns `previous_response_id` names);
    `unseal` opens replayed reasoning's `encrypted_content`."""
    return responses_translation(request, history, unseal).conversation


def responses_translation(
    request: ResponsesRequest, history: tuple[Message, ...] = (), unseal: Unseal = _no_seal
) -> ResponsesTranslation:
    """responses_conversation, with the offered tools it made."""
    _check_unsupported(request)
    messages: list[Message] = []
    if request.instructions:
        messages.append(Message(role="system", parts=(TextPart(request.instructions),)))
    messages.extend(history)
    messages.extend(input_messages(request, unseal))
    offered = offered_tools(request.tools)
    if not messages:
        raise InvalidRequestError("`input` must hold at least one item.", param="input")
    effort = request.reasoning.effort if request.reasoning else None
    conversation = Conversation(
        model=request.model,
        messages=tuple(messages),
        sampling=Sampling(
            temperature=request.temperature, top_p=request.top_p, ignore_eos=request.ignore_eos
        ),
        max_tokens=request.max_output_tokens,
        tools=offered.specs,
        tool_choice=responses_tool_choice(request.tool_choice, offered),
        parallel_tool_calls=request.parallel_tool_calls is not False,
        output_format=_output_format(request),
        reasoning_effort="high" if effort == "xhigh" else effort,
        omitted_tools=offered.omitted,
        params=RESPONSES_PARAMS,
    )
    return ResponsesTranslation(conversation, offered)


def carried_messages(request: ResponsesRequest, conversation: Conversation) -> tuple[Message, ...]:
    """What a stored response carries to the next one: the conversation without this
    request's `instructions` (history, then input, as responses_conversation laid it out)."""
    return conversation.messages[1:] if request.instructions else conversation.messages
