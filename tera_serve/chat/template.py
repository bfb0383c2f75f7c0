"""Render chat messages to prompt token ids with the model's own chat template.

Rendering uses transformers' sandboxed Jinja environment. The server's own templates run
in the bounded CPU pool; a request-supplied template runs in a killable worker process
(template_sandbox.py), since its cost is the client's code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tera_serve.bounded_work import offload
from tera_serve.chat.system_messages import renders_late_system
from tera_serve.core.conversation import ImagePart, Message, ToolSpec
from tera_serve.errors import InvalidRequestError

MAX_RENDERED_CHARS = 8 * 1024 * 1024
"""Most characters a request-supplied template may render."""

ResultT = TypeVar("ResultT")


async def render_bounded(work: Callable[[], ResultT], what: str) -> ResultT:
    """Run blocking prompt rendering in the server's bounded CPU pool (bounded_work).

    The request's size limits bound the work; a busy pool is a 503, never the client's fault.
    """
    return await offload(work, what=f"rendering {what}")


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    token_ids: tuple[int, ...]


def message_to_template_dict(message: Message) -> dict[str, Any]:
    """The dict shape chat templates expect (OpenAI-style, arguments as objects)."""
    out: dict[str, Any] = {"role": message.role, "content": _template_content(message)}
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


def _template_content(message: Message) -> str | list[dict[str, str]]:
    """Text as one string; with images, the parts in order (`{"type": "image"}` is where a
    vision template writes the image's placeholder)."""
    if not any(isinstance(part, ImagePart) for part in message.parts):
        return message.text()
    return [
        {"type": "image"} if isinstance(part, ImagePart) else {"type": "text", "text": part.text}
        for part in message.parts
    ]


def _arguments_object(arguments: str) -> Any:
    # Templates (Qwen's among them) iterate over or `tojson` the arguments: give them an object.
    # Deep nesting is refused up front (service/request_bounds.py); RecursionError too here.
    try:
        return json.loads(arguments)
    except (ValueError, RecursionError):
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
        self._late_system: bool | None = None
        """Whether the template renders a later system message in place (probed once)."""

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

    async def late_system_in_place(self, chat_template: str | None = None) -> bool:
        """Whether a system message after the conversation began can stay where it stands
        (chat/system_messages.py). The server's template is probed on first use; a
        request-supplied one is not (its later system messages are merged)."""
        if chat_template is not None:
            return False
        if self._late_system is None:
            self._late_system = await render_bounded(
                lambda: renders_late_system(self.render_text), "the chat template's probe"
            )
        return self._late_system

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
        if chat_template is not None:
            from tera_serve.chat.template_sandbox import render_request_template

            text = await render_request_template(
                self._tokenizer,
                chat_template,
                messages,
                tools=tools,
                add_generation_prompt=add_generation_prompt,
                template_kwargs=template_kwargs,
                max_chars=MAX_RENDERED_CHARS,
            )
            return RenderedPrompt(
                text=text, token_ids=await offload(self.encode, text, what="tokenizing")
            )

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
