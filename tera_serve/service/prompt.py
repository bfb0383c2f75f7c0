"""Chat request → prompt token ids, by the model family's renderer."""

from __future__ import annotations

from typing import Any

from tera_serve.chat.prompt_types import THINK_CLOSE, THINK_OPEN, ChatPrompt
from tera_serve.chat.template import message_to_template_dict, tools_to_template_list
from tera_serve.protocol.chat import ChatCompletionRequest
from tera_serve.service.registry import ServedModel


def template_kwargs(request: ChatCompletionRequest, served: ServedModel) -> dict[str, Any]:
    kwargs: dict[str, Any] = dict(served.config.default_chat_template_kwargs)
    if request.reasoning_effort is not None:
        kwargs["reasoning_effort"] = request.reasoning_effort
        if request.reasoning_effort == "none":
            # Qwen3 templates' switch for "answer without thinking".
            kwargs["enable_thinking"] = False
    kwargs.update(request.chat_template_kwargs or {})
    return kwargs


async def build_chat_prompt(
    request: ChatCompletionRequest, served: ServedModel, *, open_reasoning: bool = False
) -> ChatPrompt:
    """Render the prompt. `open_reasoning`: a Qwen3 prompt whose template leaves the think
    block to the model gets `<think>` appended, as Qwen3.5 templates do themselves, so the
    engine knows reasoning is under way (a grammar then waits for `</think>`, and a thinking
    budget counts from the first token)."""
    if served.family.is_harmony:
        from tera_serve.chat.harmony import render_harmony_prompt

        return await render_harmony_prompt(request, served)
    kwargs = template_kwargs(request, served)
    with_tools = bool(request.tools) and request.tool_choice != "none"
    rendered = await served.renderer.render(
        [message_to_template_dict(m) for m in request.messages],
        tools=tools_to_template_list(request.tools or []) if with_tools else None,
        add_generation_prompt=request.add_generation_prompt,
        template_kwargs=kwargs,
        chat_template=request.chat_template,
    )
    tail = rendered.text.rstrip()
    reasoning = served.family.reasoning_parser is not None
    thinking_open = reasoning and tail.endswith(THINK_OPEN)
    thinking_disabled = reasoning and (
        tail.endswith(THINK_CLOSE) or kwargs.get("enable_thinking") is False
    )
    text, token_ids = rendered.text, rendered.token_ids
    if open_reasoning and reasoning and not thinking_open and not thinking_disabled:
        opener = THINK_OPEN + "\n"
        text, token_ids = text + opener, token_ids + served.renderer.encode(opener)
        thinking_open = True
    return ChatPrompt(
        text=text,
        token_ids=token_ids,
        thinking_open=thinking_open and not thinking_disabled,
        thinking_disabled=thinking_disabled,
    )
