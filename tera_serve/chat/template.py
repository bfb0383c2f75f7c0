"""Render chat messages to prompt token ids with the model's own chat template.

Rendering uses transformers' sandboxed Jinja environment. It runs in a worker thread with
a time bound so a pathological template or request cannot stall the event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tera_serve.core.conversation import Message, ToolSpec
from tera_serve.errors import InvalidRequestError

RENDER_TIMEOUT_S = 10.0


ResultT = TypeVar("ResultT")


async def render_bounded(work: Callable[[], ResultT], what: str) -> ResultT:
    """Run blocking prompt rendering in a worker thread, giving up after RENDER_TIMEOUT_S.

    A thread cannot be killed, but the request stops waiting and the event loop never
    blocks; the bounds on request size keep a render from running long in practice.
    """
    try:
        return await asyncio.wait_for(asyncio.to_thread(work), RENDER_TIMEOUT_S)
    except TimeoutError as exc:
        raise InvalidRequestError(
            f"Rendering {what} took longer than {RENDER_TIMEOUT_S:g} s.", param="messages"
        ) from exc


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    token_ids: tuple[int, ...]


def message_to_template_dict(message: Message) -> dict[str, Any]:
    """The dict shape chat templates expect (OpenAI-style, arguments as objects)."""
    out: dict[str, Any] = {"role": message.role, "content": message.text()}
    if message.name is not None:
        out["name"] = message.name
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.reasoning:
        out["reasoning_content"] = message.reasoning
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": _arguments_object(call.arguments)},
            }
            for call in message.tool_calls
        ]
    return out


def _arguments_object(arguments: str) -> Any:
    # Templates (Qwen's among them) iterate over or `tojson` the arguments: give them an object.
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def tools_to_template_list(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [tool.as_openai_tool() for tool in tools]


class ChatTemplateRenderer:
    """Applies one tokenizer's chat template; safe to share across requests."""

    def __init__(self, tokenizer: Any, chat_template: str | None = None) -> None:
        self._tokenizer = tokenizer
        self._chat_template = chat_template
        if chat_template is None and getattr(tokenizer, "chat_template", None) is None:
            self._chat_template = None

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    def has_template(self) -> bool:
        return bool(self._chat_template or getattr(self._tokenizer, "chat_template", None))

    def render_text(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
        template_kwargs: Mapping[str, Any] | None = None,
        chat_template: str | None = None,
    ) -> str:
        if not self.has_template() and chat_template is None:
            raise InvalidRequestError(
                "This model has no chat template; use /v1/completions.", param="messages"
            )
        try:
            text = self._tokenizer.apply_chat_template(
                messages,
                tools=tools or None,
                chat_template=chat_template or self._chat_template,
                add_generation_prompt=add_generation_prompt,
                tokenize=False,
                **dict(template_kwargs or {}),
            )
        except InvalidRequestError:
            raise
        except Exception as exc:  # a template's raise_exception or a Jinja error
            raise InvalidRequestError(
                f"The chat template could not render these messages: {exc}", param="messages"
            ) from exc
        return str(text)

    def encode(self, text: str, *, add_special_tokens: bool = False) -> tuple[int, ...]:
        return tuple(self._tokenizer.encode(text, add_special_tokens=add_special_tokens))

    async def render(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
        template_kwargs: Mapping[str, Any] | None = None,
        chat_template: str | None = None,
    ) -> RenderedPrompt:
        def work() -> RenderedPrompt:
            text = self.render_text(
                messages,
                tools=tools,
                add_generation_prompt=add_generation_prompt,
                template_kwargs=template_kwargs,
                chat_template=chat_template,
            )
            return RenderedPrompt(text=text, token_ids=self.encode(text))

        return await render_bounded(work, "the chat template")
