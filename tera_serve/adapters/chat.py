"""Chat Completions body → Conversation."""

from __future__ import annotations

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
from tera_serve.protocol.chat import (
    ChatCompletionRequest,
    ChatMessage,
    ImageUrlPart,
    NamedToolChoice,
)
from tera_serve.protocol.common import SamplingFields
from tera_serve.protocol.tokenize import TokenizeRequest


def sampling_of(fields: SamplingFields) -> Sampling:
    return Sampling(
        temperature=fields.temperature,
        top_p=fields.top_p,
        top_k=fields.top_k,
        min_p=fields.min_p,
        frequency_penalty=fields.frequency_penalty,
        presence_penalty=fields.presence_penalty,
        repetition_penalty=fields.repetition_penalty,
        seed=fields.seed,
        stop=tuple(fields.stop_list()),
        ignore_eos=fields.ignore_eos,
        logit_bias=fields.logit_bias,
    )


def _parts(message: ChatMessage, param: str) -> tuple[ContentPart, ...]:
    if not isinstance(message.content, list) or not any(
        isinstance(part, ImageUrlPart) for part in message.content
    ):
        text = message.text()
        return (TextPart(text),) if text else ()
    return tuple(
        ImagePart(
            url=part.image_url.url,
            detail=part.image_url.detail,
            param=f"{param}.content[{index}].image_url",
        )
        if isinstance(part, ImageUrlPart)
        else TextPart(part.text)
        for index, part in enumerate(message.content)
    )


def _message(message: ChatMessage, param: str) -> Message:
    return Message(
        role=message.role,
        parts=_parts(message, param),
        name=message.name,
        tool_call_id=message.tool_call_id,
        tool_calls=tuple(
            ToolCallPart(id=call.id, name=call.function.name, arguments=call.function.arguments)
            for call in message.tool_calls or ()
        ),
        reasoning=message.reasoning_content or message.reasoning,
    )


def _tool_choice(request: ChatCompletionRequest) -> ToolChoice | None:
    choice = request.tool_choice
    if choice is None:
        return None
    if isinstance(choice, NamedToolChoice):
        return ToolChoice("named", choice.function.name)
    return ToolChoice(choice)


def _output_format(request: ChatCompletionRequest) -> OutputFormat | None:
    fmt = request.response_format
    if fmt is None:
        return None
    schema = fmt.json_schema.json_schema if fmt.json_schema else fmt.schema_
    return OutputFormat(fmt.type, schema)


def chat_conversation(request: ChatCompletionRequest) -> Conversation:
    return Conversation(
        model=request.model,
        messages=tuple(_message(m, f"messages[{i}]") for i, m in enumerate(request.messages)),
        sampling=sampling_of(request),
        max_tokens=request.requested_max_tokens(),
        n=request.n,
        tools=tuple(
            ToolSpec(
                name=tool.function.name,
                description=tool.function.description,
                parameters=tool.function.parameters,
                strict=tool.function.strict,
            )
            for tool in request.tools or ()
        ),
        tool_choice=_tool_choice(request),
        parallel_tool_calls=request.parallel_tool_calls,
        output_format=_output_format(request),
        logprobs=(request.top_logprobs or 0) if request.logprobs else None,
        prompt_logprobs=request.prompt_logprobs,
        reasoning_effort=request.reasoning_effort,
        thinking_budget=request.thinking_token_budget,
        template_kwargs=request.chat_template_kwargs,
        chat_template=request.chat_template,
        add_generation_prompt=request.add_generation_prompt,
        skip_special_tokens=request.skip_special_tokens,
        params={
            "max_tokens": "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
        },
    )


def tokenize_conversation(request: TokenizeRequest, model_id: str) -> Conversation:
    """/tokenize's `messages`, rendered as a chat request with the same fields would be."""
    return Conversation(
        model=model_id,
        messages=tuple(_message(m, f"messages[{i}]") for i, m in enumerate(request.messages or ())),
        template_kwargs=request.chat_template_kwargs,
        add_generation_prompt=request.add_generation_prompt,
    )
